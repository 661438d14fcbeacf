"""An evaluation run on disk: `DIR/metadata.json` (config, environments, metrics) and `DIR/rollouts.jsonl`.

rollouts.jsonl is append-only: a rollout that is redone (an errored one on `--resume`) gets a new line, and
the last line of a (env, sample id, rollout) key is the one that counts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rewardkit.episodes import INFRASTRUCTURE_STOPS
from rewardkit.errors import RewardkitError
from rewardkit.records import RolloutRecord, read_records

METADATA = "metadata.json"
ROLLOUTS = "rollouts.jsonl"
FORMAT = "rewardkit-eval/1"


class RunDirError(RewardkitError):
    """A run folder is missing, is not an evaluation run, or is unreadable."""


def metadata_path(run: Path) -> Path:
    return Path(run) / METADATA


def rollouts_path(run: Path) -> Path:
    return Path(run) / ROLLOUTS


def read_metadata(run: str | Path) -> dict[str, Any]:
    path = metadata_path(Path(run))
    if not path.is_file():
        raise RunDirError(f"{run}: no {METADATA}; is this a folder written by `rewardkit eval`?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunDirError(f"{path}: unreadable ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunDirError(f"{path}: not an evaluation run's metadata (expected format {FORMAT!r})")
    return data


def write_metadata(run: str | Path, data: Mapping[str, Any]) -> None:
    """Atomically: a reader (or a kill) never sees half a file."""
    path = metadata_path(Path(run))
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"format": FORMAT, **data}, indent=2, ensure_ascii=False) + "\n", "utf-8")
    os.replace(partial, path)


def latest_records(run: str | Path) -> dict[tuple[str, str, int], RolloutRecord]:
    """Each rollout's last record, in first-seen order."""
    path = rollouts_path(Path(run))
    if not path.is_file():
        return {}
    latest: dict[tuple[str, str, int], RolloutRecord] = {}
    try:
        for record in read_records(path):
            latest[record.key] = record
    except ValueError as error:
        raise RunDirError(str(error)) from None
    return latest


def generation_failed(record: RolloutRecord) -> bool:
    """The rollout has no trajectory to score: its generation failed (after retries), or its episode ended
    in an infrastructure failure (a tool's sandbox down, the environment timed out). Run it again."""
    stopped = record.result.error is not None and record.trajectory.stop_reason in INFRASTRUCTURE_STOPS
    return stopped or record.result.info.get("stage") == "generation"


def write_records(run: str | Path, records: Iterable[RolloutRecord]) -> None:
    from rewardkit.records import RecordWriter

    with RecordWriter(rollouts_path(Path(run))) as writer:
        writer.write_many(records)
