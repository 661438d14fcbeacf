"""Where metrics go: JSONL always, TensorBoard when installed, W&B when asked; a rich progress bar."""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rewardkit.errors import ConfigError
from rewardkit.records import RecordWriter, RolloutRecord
from rewardkit.trainer.config import LoggingConfig

METRICS_FILE = "metrics.jsonl"
ROLLOUTS_FILE = "rollouts.jsonl"


def _clean(value: float) -> float | None:
    return value if math.isfinite(value) else None


def check_logging(config: LoggingConfig) -> None:
    """Fail before the model loads when a logger that was asked for is not installed."""
    if config.wandb and not _importable("wandb"):
        raise ConfigError(
            "logging.wandb: true needs the wandb package; pip install wandb, or set logging.wandb=false"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
        return False


# What the progress bar shows, when the step has it: (metric, label, format).
GRPO_STATUS = (
    ("reward/mean", "reward", ".3f"),
    ("reward/accuracy", "acc", ".3f"),
    ("kl", "kl", ".4f"),
    ("tokens_per_s", "tok/s", ",.0f"),
)


class Tracker:
    def __init__(
        self,
        run_dir: Path,
        config: LoggingConfig,
        total_steps: int,
        start_step: int,
        run_config: dict,
        label: str = "GRPO",
        status: Sequence[tuple[str, str, str]] = GRPO_STATUS,
    ):
        check_logging(config)
        self.config = config
        self.status = status
        self._shown: dict[str, float] = {}  # last value of each status metric (eval ones come now and then)
        self.run_dir = run_dir
        self.console = Console(stderr=True)
        self._truncate_after(start_step)  # a resumed run rewrites the steps after its checkpoint
        self.jsonl = (run_dir / METRICS_FILE).open("a", encoding="utf-8")
        self.rollouts = RecordWriter(run_dir / ROLLOUTS_FILE) if config.rollouts else None
        self.tensorboard = self._tensorboard(start_step) if config.tensorboard else None
        self.wandb = self._wandb(run_config) if config.wandb else None
        self.progress: Progress | None = None
        if config.progress:
            self.progress = Progress(
                TextColumn(f"[bold]{label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task("train", total=total_steps, completed=start_step, status="")

    def _truncate_after(self, step: int) -> None:
        for path in (self.run_dir / METRICS_FILE, self.run_dir / ROLLOUTS_FILE):
            if path.exists():
                lines = path.read_text(encoding="utf-8").splitlines()
                kept = [line for line in lines if _step_of(line) <= step]
                path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def _tensorboard(self, start_step: int) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None  # TensorBoard is optional: JSONL always has everything
        # A resumed run logs the steps after its checkpoint again; purging hides the killed run's copies.
        purge = start_step + 1 if start_step else None
        return SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge)

    def _wandb(self, run_config: dict) -> Any:
        import wandb  # asked for explicitly: check_logging made a missing install an error

        return wandb.init(project=self.config.wandb_project, dir=str(self.run_dir), config=run_config)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        record = {"step": step, **{k: _clean(float(v)) for k, v in sorted(metrics.items())}}
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.tensorboard is not None:
            for key, value in metrics.items():
                if math.isfinite(value):
                    self.tensorboard.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log(dict(metrics), step=step)

    def advance(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.progress is None:
            return
        self._shown.update({key: metrics[key] for key, _, _ in self.status if key in metrics})
        status = "  ".join(
            f"{label} {self._shown[key]:{spec}}" for key, label, spec in self.status if key in self._shown
        )
        self.progress.update(self.task, completed=step, status=status)

    def rollout_records(self, records: Sequence[RolloutRecord]) -> None:
        if self.rollouts is not None and records:
            self.rollouts.write_many(records)

    def samples_table(self, step: int, records: Sequence[RolloutRecord]) -> None:
        table = Table(title=f"samples at step {step}", show_lines=True)
        for column in ("env", "prompt", "completion", "reward"):
            table.add_column(column, overflow="fold")
        for record in records[: self.config.num_samples]:
            prompt = record.sample.prompt[-1]["content"] if record.sample.prompt else ""
            table.add_row(record.env, prompt[-200:], record.completion[:400], f"{record.result.score}")
        self.console.print(table)
        if self.tensorboard is not None:
            text = "\n\n".join(f"**{r.env}** ({r.result.score}): {r.completion}" for r in records[:4])
            self.tensorboard.add_text("samples", text, step)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.jsonl.close()
        if self.rollouts is not None:
            self.rollouts.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 62


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
