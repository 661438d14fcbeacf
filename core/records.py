"""The rollout record: one line of `rollouts.jsonl`, shared by the trainer's logs, `eval`, `rescore`, `view`,
`export` and `serve`.

A record holds everything needed to look at a rollout again or score it again without generating it again:
the whole Sample (prompt, answer, info), the trajectory (a one-message trajectory for single-turn
environments), the outcome, token counts and timing. Files are appended one flushed line per rollout, so a
killed writer loses at most the rollouts in flight; a reader drops a torn last line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rewardkit.types import RewardResult, Sample, Trajectory, json_safe

RECORD_VERSION = 1


@dataclass(frozen=True)
class RolloutRecord:
    """One rollout of one sample of one environment, and its outcome."""

    env: str  # the environment's name (or its key in a run with the same environment twice)
    sample: Sample
    trajectory: Trajectory
    result: RewardResult
    rollout: int = 0  # index among this sample's rollouts
    tokens: Mapping[str, int] = field(default_factory=dict)  # "prompt", "completion" (summed over turns)
    timing: Mapping[str, float] = field(default_factory=dict)  # seconds: "generate", "score"
    step: int | None = None  # the trainer step that produced it, where a trainer wrote it

    @property
    def key(self) -> tuple[str, str, int]:
        """Unique within a run: what `--resume` uses to know a rollout is done."""
        return (self.env, self.sample.id, self.rollout)

    @property
    def completion(self) -> str:
        return self.trajectory.completion

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "version": RECORD_VERSION,
            "env": self.env,
            "sample": json_safe(self.sample.to_dict()),
            "rollout": self.rollout,
            "trajectory": self.trajectory.to_dict(),
            **self.result.to_dict(),
            "tokens": dict(self.tokens),
            "timing": dict(self.timing),
        }
        if self.step is not None:
            row["step"] = self.step
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> RolloutRecord:
        return cls(
            env=str(row["env"]),
            sample=Sample.from_dict(row["sample"]),
            trajectory=Trajectory.from_dict(row["trajectory"]),
            result=RewardResult.from_dict(row),
            rollout=int(row.get("rollout", 0)),
            tokens={k: int(v) for k, v in (row.get("tokens") or {}).items()},
            timing={k: float(v) for k, v in (row.get("timing") or {}).items()},
            step=row.get("step"),
        )


class RecordWriter:
    """Appends records to a JSONL file, one flushed line each (`fsync=True` also survives power loss)."""

    def __init__(self, path: str | Path, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        drop_torn_tail(self.path)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def write(self, record: RolloutRecord) -> None:
        self.write_many([record])

    def write_many(self, records: Iterable[RolloutRecord]) -> None:
        lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records)
        self._file.write(lines)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: str | Path) -> Iterator[RolloutRecord]:
    """The records of a rollouts file, in order. A torn last line (a writer killed mid-write) is skipped;
    a malformed line elsewhere is an error naming the file and line."""
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith("\n"):
                return  # torn tail
            if not line.strip():
                continue
            try:
                yield RolloutRecord.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a rollout record ({error})") from None


def drop_torn_tail(path: Path) -> None:
    """Cut a last line that has no newline (left by a writer killed mid-line), so appends start clean."""
    if not path.is_file():
        return
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(1 << 16, position)
            handle.seek(position - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline != -1:
                handle.truncate(position - step + newline + 1)
                return
            position -= step
        handle.truncate(0)
