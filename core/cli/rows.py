"""The input of `rewardkit score`: JSONL rows from a file or stdin (`-`), each checked before it is scored.

A row is `{"completion": str, "answer": any, "info": {...}, "prompt": optional, "id": optional}` plus any
keys the caller wants carried through to the output. Every problem names its file and line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from rewardkit.environment import Environment
from rewardkit.errors import RewardkitError
from rewardkit.types import Sample

STDIO = "-"
KEEP_PARSED = 64 << 20  # an input up to this size is parsed once: its checked rows are kept for scoring
ROW_KEYS = ("completion", "answer", "info", "prompt", "id")


class InputError(RewardkitError):
    """The input cannot be read or has a malformed row."""


@dataclass(frozen=True)
class InputRow:
    line: int
    data: dict[str, Any]
    sample: Sample
    completion: str


class RowReader:
    """Reads and checks rows for one environment; a file is checked whole before it is scored."""

    def __init__(self, path: str, env: Environment) -> None:
        self.path = path
        self.name = "<stdin>" if path == STDIO else path
        self.env = env
        if path != STDIO:
            with self._open():
                pass  # an unreadable input fails before anything else happens

    def rows(self) -> Iterator[InputRow]:
        with self._open() as handle:
            for number, raw in enumerate(handle, 1):
                text = self._decode(raw, number)
                if text.strip():
                    yield self._parse(text, number)

    def checked(self) -> tuple[int | None, Iterator[InputRow]]:
        """Check every row of a file (JSON, shape, the environment's fields) before any scoring; returns
        their count and the rows to score. Stdin, read once, is checked as it is scored (count None)."""
        if self.path == STDIO:
            return None, self.rows()
        if os.path.getsize(self.path) <= KEEP_PARSED:
            rows = list(self.rows())
            return len(rows), iter(rows)
        return sum(1 for _ in self.rows()), self.rows()

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        if self.path == STDIO:
            yield sys.stdin.buffer
            return
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below; decoded per line for line numbers
        except OSError as error:
            raise InputError(f"cannot read --input {self.path}: {error.strerror}") from None
        with handle:
            yield handle

    def _decode(self, raw: bytes, number: int) -> str:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(
                f"{self.name}:{number}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at column "
                f"{error.start + 1}); re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8"
            ) from None
        return text.removeprefix("\ufeff") if number == 1 else text

    def _parse(self, line: str, number: int) -> InputRow:
        where = f"{self.name}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: invalid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        completion = row.get("completion")
        if not isinstance(completion, str):
            raise InputError(f"{where}: field 'completion' must be a string, got {completion!r:.60}")
        info = row.get("info") or {}
        if not isinstance(info, dict):
            raise InputError(f"{where}: field 'info' must be an object, got {type(info).__name__}")
        fields = {"id": row.get("id", f"line-{number}"), "prompt": row.get("prompt"), "info": info}
        sample = Sample.from_dict({**fields, "answer": row.get("answer")})
        problem = self.env.sample_format.problem(sample)
        if problem is not None:
            raise InputError(
                f"{where}: a {self.env.name} row {problem}{self._unread(row)}. "
                f"The row format: rewardkit envs show {self.env.name}"
            )
        return InputRow(number, row, sample, completion)

    def _unread(self, row: dict[str, Any]) -> str:
        """Keys of a malformed row that the environment does not read: usually the misnamed one."""
        hints = []
        others = sorted(set(row) - set(ROW_KEYS))
        if others:
            hints.append(f"other keys in the row: {', '.join(others)}")
        declared = self.env.sample_format.paths
        if row.get("answer") is not None and declared and "answer" not in declared:
            hints.append(f"{self.env.name} does not read 'answer'")
        return "".join(f"; {hint}" for hint in hints)
