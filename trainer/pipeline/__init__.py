"""Pipelines of stages (DeepSeek-R1's recipe as one config): `rewardkit train` runs a config with `stages`.

Importing this package is light; each stage loads what it needs when it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardkit.overrides import load_config_file
from rewardkit.trainer.pipeline.config import Pipeline, is_pipeline, parse_pipeline
from rewardkit.trainer.pipeline.state import CONFIG_FILE, STATE_FILE

if TYPE_CHECKING:
    from rewardkit.environment import Environment
    from rewardkit.host import PluginHost
    from rewardkit.trainer.pipeline.runner import PipelineResult

__all__ = [
    "Pipeline",
    "configure_pipeline_process",
    "is_pipeline",
    "is_pipeline_run",
    "load_pipeline",
    "parse_pipeline",
    "train_pipeline",
]


def is_pipeline_run(path: str | Path) -> bool:
    """Whether `path` is the folder of a pipeline run (what `train --resume` then continues)."""
    return (Path(path) / STATE_FILE).is_file()


def train_pipeline(
    config: Pipeline | Mapping[str, Any] | str | Path | None,
    overrides: Iterable[str] = (),
    resume: str | Path | None = None,
    host: PluginHost | None = None,
    environments: Mapping[str, Environment] | None = None,
) -> PipelineResult:
    """Run a pipeline (a Pipeline, a mapping or a YAML path). `resume` is the run folder of a pipeline to
    continue; without `config`, with the config it was started with."""
    from rewardkit.trainer.pipeline.runner import run_pipeline

    pipeline = load_pipeline(config, overrides, resume)
    return run_pipeline(pipeline, resume=resume is not None, host=host, environments=environments)


def load_pipeline(
    config: Pipeline | Mapping[str, Any] | str | Path | None,
    overrides: Iterable[str] = (),
    resume: str | Path | None = None,
) -> Pipeline:
    """The pipeline `train_pipeline` runs, with the same arguments."""
    if resume is not None:  # the run continues in its own folder, whatever output_dir the config names
        config = Path(resume) / CONFIG_FILE if config is None else config
        overrides = (f"output_dir={resume}", *overrides)
    if config is None:
        raise ValueError("train_pipeline: give a config, or resume= a pipeline run folder")
    if isinstance(config, Pipeline):
        config = config.config.model_dump(mode="json")
    if isinstance(config, str | Path):
        config = load_config_file(config)
    return parse_pipeline(config, overrides)


def configure_pipeline_process(pipeline: Pipeline) -> None:
    """What `rewardkit train` sets process-wide for a pipeline (a library call sets nothing): `threads`,
    and what each GRPO stage's generation needs (trainer.process.configure_process)."""
    from rewardkit.trainer.pipeline.config import grpo_config
    from rewardkit.trainer.process import configure_process, configure_threads

    configure_threads(pipeline.config.threads)
    for stage in pipeline.stages:
        if stage.kind == "grpo":
            configure_process(grpo_config(pipeline.config, stage, pipeline.config.model.path))
