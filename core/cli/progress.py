"""The progress bar and the closing summary of `rewardkit eval` and `rewardkit rescore`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rewardkit.records import RolloutRecord


class RunProgress:
    """A rich progress bar (rollouts done, running mean score, errors) on a terminal; nothing elsewhere."""

    def __init__(self, enabled: bool | None = None, label: str = "eval") -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self._progress: Any = None
        self._task: Any = None
        self._scores = 0.0
        self._scored = 0
        self._errors = 0

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, total: int, remaining: int) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn(f"[bold]{self.label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=total, completed=total - remaining, status="")

    def record(self, record: RolloutRecord) -> None:
        if record.result.error is not None:
            self._errors += 1
        elif record.result.score is not None:
            self._scored += 1
            self._scores += record.result.score
        if self._progress is None:
            return
        mean = f"mean {self._scores / self._scored:.3f}" if self._scored else "mean -"
        self._progress.update(self._task, advance=1, status=f"{mean}  errors {self._errors}")

    def summary(self, metadata: dict[str, Any], output: Path, changed: dict[str, Any] | None = None) -> None:
        print_summary(metadata, output, changed)


def print_summary(metadata: dict[str, Any], output: Path, changed: dict[str, Any] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    metrics = metadata["metrics"]
    envs = metrics["environments"]
    ks = sorted({k for m in envs.values() for k in m.get("pass_at_k", m.get("max_at_k", {}))}, key=int)
    table = Table(title=f"{metadata.get('kind', 'eval')}: {output} ({metadata['status']})")
    columns = ["environment", "prompts", "rollouts", "mean ± se", *(f"pass@{k}" for k in ks)]
    columns += ["maj@" + ks[-1] if ks else "maj", "errors", "no answer", "truncated"]
    if changed is not None:
        columns.append("verdicts changed")
    for column in columns:
        table.add_column(column, justify="left" if column == "environment" else "right")
    for key, m in envs.items():
        row = [key, str(m["prompts"]), str(m["rollouts"]), _mean(m)]
        row += [
            _num(m.get("pass_at_k", {}).get(k))
            if "pass_at_k" in m
            else "max " + _num(m.get("max_at_k", {}).get(k))
            for k in ks
        ]
        row += [
            _num((m.get("maj_at_k") or {}).get(ks[-1])) if ks else "-",
            _pct(m["error_rate"]),
            _pct(m["no_answer_rate"]),
            _pct(m["truncation_rate"]),
        ]
        if changed is not None:
            row.append(str(changed.get(key, {}).get("changed", 0)))
        table.add_row(*row)
    # Off a terminal (a pipe, a log) rich would wrap at 80 columns and fold the numbers; let lines be long.
    console = Console() if sys.stdout.isatty() else Console(width=240)
    console.print(table)
    timing = metadata.get("timing", {})
    if timing.get("wall_seconds"):
        rate = timing.get("rollouts_per_second")
        console.print(f"{timing['wall_seconds']:.1f} s" + (f", {rate:.2f} rollouts/s" if rate else ""))
    console.print(f"rollouts: {output}/rollouts.jsonl  report: rewardkit view {output}")
    if metadata["status"] == "interrupted":
        console.print(f"interrupted: complete it with  rewardkit eval --resume {output}")


def _mean(m: dict[str, Any]) -> str:
    if m.get("mean") is None:
        return "-"
    se = m.get("stderr")
    return f"{m['mean']:.3f}" + (f" ± {se:.3f}" if se is not None else "")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
