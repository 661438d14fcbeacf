"""Where `rewardkit score` writes, checked before any scoring.

A regular file (or a new path) is written beside the target as `NAME.partial` and renamed over it, so an
existing file is replaced in one step; a symlink keeps pointing where it pointed and its target is replaced.
Anything else is written through, never replaced: `-` (stdout), FIFOs, and devices such as `/dev/stdout`
or `/dev/null`. With `resume`, rows already in a regular file are kept and new rows are appended to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rewardkit.errors import RewardkitError
from rewardkit.records import drop_torn_tail

STDOUT = "-"
# Paths that name a process's own streams or kernel objects: always written through, whatever they point to.
SPECIAL_ROOTS = ("/dev/", "/proc/")


RowKey = tuple[Any, int]
"""(id, hash of the completion): enough to tell that a scored row belongs to an input row."""


def row_key(row: dict[str, Any]) -> RowKey:
    return (row.get("id"), hash(row.get("completion")))


class OutputError(RewardkitError):
    """The output path cannot be written (checked before any scoring)."""


@dataclass
class Output:
    name: str
    handle: IO[str]
    done: list[RowKey] = field(default_factory=list)  # rows already there (resume), in order
    temp: Path | None = None  # written here, renamed to `target`
    target: Path | None = None
    written: int = 0  # rows written by this run

    def write(self, lines: list[str]) -> None:
        try:
            self.handle.write("".join(lines))
            self.handle.flush()  # what is written survives a kill; a full disk fails now, not at the end
        except OSError as error:
            raise OutputError(f"cannot write --output {self.name}: {error.strerror}") from None
        self.written += len(lines)

    def close(self, keep: bool) -> None:
        """Close; a renamed output replaces its target when `keep` (the run finished or wrote rows)."""
        if self.handle is not sys.stdout:
            with contextlib.suppress(OSError):  # a failed write was already reported
                self.handle.close()
        if self.temp is not None and self.target is not None:
            if keep:
                os.replace(self.temp, self.target)
            else:
                self.temp.unlink(missing_ok=True)


def open_output(path: str, resume: bool) -> Output:
    if path == STDOUT:
        if resume:
            raise OutputError("--resume reads back the rows already scored; it needs --output to be a file")
        return Output("<stdout>", sys.stdout)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise OutputError(f"cannot write --output {path}: {error.strerror}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(
            f"--output {path} is a directory; give a file path, e.g. {Path(path) / 'scored.jsonl'}"
        )
    if path.startswith(SPECIAL_ROOTS) or (mode is not None and not stat.S_ISREG(mode)):
        if resume:
            raise OutputError(f"--resume needs --output to be a regular file; {path} is not one")
        return Output(path, _open(path, "a", path))
    return _renamed(path, Path(os.path.realpath(path)), mode, resume)


def _renamed(name: str, target: Path, mode: int | None, resume: bool) -> Output:
    _check_directory(name, target.parent)
    if mode is not None and not os.access(target, os.W_OK):
        raise OutputError(
            f"cannot write --output {name}: the file is read-only; make it writable or choose another"
        )
    temp = target.with_name(target.name + ".partial")
    if resume:
        if temp.is_file():  # left by a run that was killed before it could rename its output
            os.replace(temp, target)
        if target.is_file():
            drop_torn_tail(target)
            return Output(name, _open(target, "a", name), done=_read_done(target, name))
    handle = _open(temp, "w", name)
    if mode is not None:
        os.chmod(temp, stat.S_IMODE(mode))
    return Output(name, handle, temp=temp, target=target)


def _check_directory(name: str, directory: Path) -> None:
    if not directory.is_dir():
        raise OutputError(
            f"cannot write --output {name}: directory {directory} does not exist; "
            f"create it (mkdir -p {directory})"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write --output {name}: no permission to create files in {directory}")


def _open(path: str | Path, mode: str, name: str) -> IO[str]:
    try:
        return open(path, mode, encoding="utf-8")  # owned by the Output, which closes it
    except OSError as error:
        raise OutputError(f"cannot write --output {name}: {error.strerror}") from None


def _read_done(target: Path, name: str) -> list[RowKey]:
    done = []
    with target.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict) or "score" not in row:
                raise OutputError(
                    f"--resume: {name}:{number} is not a scored row; resume into the output of an earlier run"
                )
            done.append(row_key(row))
    return done
