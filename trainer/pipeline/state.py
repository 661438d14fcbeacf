"""A pipeline run on disk: `RUN/pipeline.json` says which stages are done and what each one made.

Written atomically after every change of a stage's status, so a run killed anywhere resumes at the stage it
was in: finished stages are skipped (their model or data is reused), the interrupted one continues from
its own latest checkpoint.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rewardkit.errors import ConfigError

STATE_FILE = "pipeline.json"
CONFIG_FILE = "pipeline.yaml"  # the config the run was started with (what --resume continues)
SUMMARY_FILE = "summary.json"
FORMAT = "rewardkit-pipeline/1"

Status = Literal["pending", "running", "complete"]


@dataclass
class StageState:
    name: str
    kind: str
    status: Status = "pending"
    model: str | None = None  # the stage's final model (model stages)
    data: str | None = None  # the rows it exported (rejection_sample)
    summary: dict[str, Any] | None = None  # its held-out table row
    seconds: float = 0.0  # wall time, over every run of it (a resumed stage adds up)
    cpu_seconds: float = 0.0


@dataclass
class PipelineState:
    run_dir: Path
    stages: list[StageState] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.run_dir / STATE_FILE

    @classmethod
    def load(cls, run_dir: Path) -> PipelineState:
        path = run_dir / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"--resume {run_dir}: no readable {STATE_FILE} ({error})") from None
        if data.get("format") != FORMAT:
            raise ConfigError(f"--resume {run_dir}: {path} is not a pipeline's state (format {FORMAT!r})")
        return cls(run_dir, [StageState(**stage) for stage in data["stages"]])

    def save(self) -> None:
        data = {"format": FORMAT, "stages": [asdict(stage) for stage in self.stages]}
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, self.path)
        self._write_summary()

    def _write_summary(self) -> None:
        rows = {s.name: s.summary for s in self.stages if s.summary is not None}
        if rows:
            path = self.run_dir / SUMMARY_FILE
            partial = path.with_name(path.name + ".partial")
            partial.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
            os.replace(partial, path)

    def matches(self, names: Sequence[tuple[str, str]]) -> None:
        """A resumed run must have the same stages (names and kinds, in order) as its saved state."""
        saved = [(s.name, s.kind) for s in self.stages]
        if saved != names:
            raise ConfigError(
                f"--resume {self.run_dir}: the config's stages {list(names)} differ from the run's {saved}; "
                "resume "
                "with the run's own config (leave CONFIG out) or start a new run"
            )
