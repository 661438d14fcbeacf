"""On-disk cache of judge replies, keyed by (judge model, template, rendered inputs, sampling).

SQLite (stdlib) in WAL mode, so several processes — trainer workers, a reward server — can share one file.
Only successful replies are stored: a failure is retried next time, never replayed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rewardkit.paths import cache_dir
from rewardkit.plugins.judge.backends.base import JudgeReply

SCHEMA_VERSION = 1


def default_cache_path() -> Path:
    return cache_dir("judge.sqlite")


def cache_key(identity: Mapping[str, Any], template: str, request_fields: Mapping[str, Any]) -> str:
    blob = json.dumps(
        {"v": SCHEMA_VERSION, "judge": identity, "template": template, "request": request_fields},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8", "replace")).hexdigest()


class ReplyCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")

    def get_many(self, keys: Iterable[str]) -> dict[str, JudgeReply]:
        keys = list(dict.fromkeys(keys))
        found: dict[str, JudgeReply] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, reply FROM replies WHERE key IN ({marks})", chunk)
                for key, reply in rows:
                    found[key] = JudgeReply.from_json(json.loads(reply))
        return found

    def put_many(self, replies: Mapping[str, JudgeReply]) -> None:
        if not replies:
            return
        rows = [(key, json.dumps(reply.to_json())) for key, reply in replies.items()]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO replies (key, reply) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
