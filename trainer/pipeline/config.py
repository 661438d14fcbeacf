"""The config of a pipeline of stages: `rewardkit train` runs it when the YAML has a `stages` list.

A stage is written like the config of its kind (an SFT config, a GRPO config, an eval + export), minus what
the pipeline decides: its folder, and the model it starts from (the previous stage's final model, unless
the stage names one). `model` settings of the pipeline (dtype, LoRA, ...) apply to every stage; a stage's
own `model` section changes some of them. Every stage is validated when the config is loaded, with the
field path of each error (`stages.1.optim.lr`), so a typo in the last stage fails before the first trains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from rewardkit.errors import ConfigError, config_error
from rewardkit.evaluation.config import EvalConfig, EvalEnvironment, parse_eval_config
from rewardkit.overrides import apply_overrides
from rewardkit.trainer.config import ModelConfig, Strict, TrainConfig, parse_config
from rewardkit.trainer.sft.config import SFTConfig, parse_sft_config

Kind = Literal["sft", "grpo", "rejection_sample", "distill"]
MODEL_STAGES = ("sft", "grpo", "distill")  # the stages whose result is a new model


class StageHead(Strict):
    """The keys every stage has; the rest of a stage is the config of its kind."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="unique; names the stage's folder")
    kind: Kind
    model: dict[str, Any] = Field(
        {},
        description="model settings that differ from the pipeline's; `path` starts the stage from that model "
        "instead of the previous stage's (a distillation student)",
    )


class ExportSettings(Strict):
    """Which of the stage's rollouts become SFT rows (the options of `rewardkit export`)."""

    select: Literal["correct", "best", "shortest", "all"] = "correct"
    pass_band: tuple[float, float] | None = Field(None, description="keep prompts whose pass rate is in it")
    max_per_prompt: int | None = Field(None, gt=0)
    dedup: bool = True
    threshold: float | None = Field(None, description="a rollout passes at this score (default: the run's)")
    min_score: float | None = None
    keep_truncated: bool = False


class SummaryConfig(Strict):
    """A held-out table after every stage that makes a model: sampled pass@1 and pass@k, greedy pass@1,
    format rate. Written to `summary.json` and printed at the end."""

    environments: list[EvalEnvironment] = Field(min_length=1)
    split: str | None = Field("test", description="default: test where an environment has it, else its first")
    num_prompts: int | None = Field(200, gt=0)
    rollouts: int = Field(8, gt=0, description="sampled replies per prompt: pass@1 and pass@<rollouts>")
    temperature: float | None = Field(
        None,
        gt=0.0,
        description="of the sampled replies; default: the last GRPO stage's training temperature",
    )
    greedy: bool = Field(True, description="also greedy pass@1 (one reply per prompt at temperature 0)")
    max_tokens: int = Field(64, gt=0)
    batch_size: int = Field(256, gt=0, description="replies generated per batch")
    format_reward: str | None = Field(
        "format.think_answer", description="the rubric component whose mean is the format rate"
    )


class PipelineConfig(Strict):
    name: str = "pipeline"
    output_dir: str = "runs/{name}"
    seed: int = 0
    threads: int | None = Field(None, gt=0, description="torch CPU threads of every stage")
    model: ModelConfig = Field(
        description="the model the first stage starts from, and every stage's settings"
    )
    summary: SummaryConfig | None = None
    stages: list[dict[str, Any]] = Field(min_length=1, description="sft, grpo, rejection_sample, distill")

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


@dataclass(frozen=True)
class Stage:
    index: int
    head: StageHead
    body: dict[str, Any]  # the stage's config of its kind, without name, kind and model

    @property
    def name(self) -> str:
        return self.head.name

    @property
    def kind(self) -> Kind:
        return self.head.kind

    @property
    def where(self) -> str:
        return f"stages.{self.index}"

    def folder(self, run_dir: Path) -> Path:
        return run_dir / "stages" / f"{self.index + 1:02d}-{self.name}"


@dataclass(frozen=True)
class Pipeline:
    config: PipelineConfig
    stages: list[Stage]

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir

    def summary_temperature(self) -> float:
        summary = self.config.summary
        if summary is not None and summary.temperature is not None:
            return summary.temperature
        grpo = [s for s in self.stages if s.kind == "grpo"]
        return float(grpo[-1].body.get("generation", {}).get("temperature", 1.0)) if grpo else 1.0


# -- building each stage's own config -----------------------------------------------------------------
def model_settings(pipeline: PipelineConfig, stage: Stage, start: str) -> dict[str, Any]:
    """The stage's model: the pipeline's settings, the stage's changes, and the model it starts from."""
    return {**pipeline.model.model_dump(), "path": start, **stage.head.model}


def _common(pipeline: PipelineConfig, stage: Stage, start: str) -> dict[str, Any]:
    return {
        "seed": pipeline.seed,
        "threads": pipeline.threads,
        **stage.body,
        "name": stage.name,
        "output_dir": str(stage.folder(pipeline.run_dir)),
        "model": model_settings(pipeline, stage, start),
    }


def sft_config(pipeline: PipelineConfig, stage: Stage, start: str, data: Mapping[str, str]) -> SFTConfig:
    """`data` maps earlier rejection_sample stages to their exported rows (for `data.from_stage`)."""
    values = _common(pipeline, stage, start)
    source = dict(values.get("data") or {})
    origin = source.pop("from_stage", None)
    if origin is not None:
        if origin not in data:
            raise ConfigError(
                f"{stage.where}.data.from_stage: {origin!r} is not an earlier rejection_sample stage "
                f"(earlier ones: {', '.join(data) or 'none'})"
            )
        source["path"] = data[origin]
    values["data"] = source
    config = parse_sft_config(values, root=stage.where)
    _check_final_saved(config.checkpoint.save_final, stage)
    return config


def grpo_config(pipeline: PipelineConfig, stage: Stage, start: str) -> TrainConfig:
    try:
        config = parse_config(_common(pipeline, stage, start))
    except ConfigError as error:
        raise ConfigError(_prefixed(str(error), stage.where)) from None
    _check_final_saved(config.checkpoint.save_final, stage)
    return config


def rejection_config(pipeline: PipelineConfig, stage: Stage, start: str) -> tuple[EvalConfig, ExportSettings]:
    """The stage's evaluation (of the current model) and which rollouts it exports."""
    body = dict(stage.body)
    export = body.pop("export", {})
    model = model_settings(pipeline, stage, start)
    body.setdefault("local", {}).setdefault("dtype", model["dtype"])
    body.setdefault("sampling", {}).setdefault("seed", pipeline.seed)
    try:
        eval_config = parse_eval_config({**body, "model": model["path"]})
        settings = ExportSettings.model_validate(export)
    except ConfigError as error:
        raise ConfigError(_prefixed(str(error), stage.where)) from None
    except ValidationError as error:
        raise config_error(error, ExportSettings, f"{stage.where}.export") from None
    return eval_config, settings


def _check_final_saved(save_final: bool, stage: Stage) -> None:
    if not save_final:
        raise ConfigError(
            f"{stage.where}.checkpoint.save_final: the next stage starts from it; leave it true"
        )


def _prefixed(message: str, root: str) -> str:
    return "\n".join(f"{root}.{line}" for line in message.splitlines())


# -- loading ----------------------------------------------------------------------------------------
def is_pipeline(data: Mapping[str, Any]) -> bool:
    return "stages" in data


def parse_pipeline(data: Mapping[str, Any], overrides: Iterable[str] = ()) -> Pipeline:
    """Validate the pipeline and every stage in it (with the pipeline's model as each stage's start).
    An override `stages.NAME.key=value` (or `stages.INDEX.key=value`) changes that stage."""
    values = _overridden(data, overrides)
    try:
        config = PipelineConfig.model_validate(values)
    except ValidationError as error:
        raise config_error(error, PipelineConfig) from None
    stages = [_stage(index, raw) for index, raw in enumerate(config.stages)]
    _check_names(stages)
    pipeline = Pipeline(config, stages)
    check_stages(pipeline)
    return pipeline


def _overridden(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    plain: list[str] = []
    per_stage: defaultdict[str, list[str]] = defaultdict(list)
    for text in overrides:
        parts = text.partition("=")[0].strip().split(".")
        if parts[0] == "stages" and len(parts) > 2:
            per_stage[parts[1]].append(text.strip().split(".", 2)[2])
        else:
            plain.append(text)
    values = apply_overrides(data, plain)
    stages = list(values.get("stages") or [])
    for ref, items in per_stage.items():
        index = _stage_index(stages, ref)
        stages[index] = apply_overrides(stages[index], items)
    if per_stage:
        values["stages"] = stages
    return values


def _stage_index(stages: list[Any], ref: str) -> int:
    names = [stage.get("name") if isinstance(stage, Mapping) else None for stage in stages]
    if ref in names:
        return names.index(ref)
    if ref.isdigit() and int(ref) < len(stages):
        return int(ref)
    raise ConfigError(
        f"override stages.{ref}: no stage is named {ref!r} (stages: {', '.join(map(str, names))})"
    )


def _stage(index: int, raw: Any) -> Stage:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"stages.{index}: expected a mapping with name, kind and the stage's settings")
    head_keys = set(StageHead.model_fields)
    try:
        head = StageHead.model_validate({k: v for k, v in raw.items() if k in head_keys})
    except ValidationError as error:
        raise config_error(error, StageHead, f"stages.{index}") from None
    return Stage(index, head, {k: v for k, v in raw.items() if k not in head_keys})


def _check_names(stages: list[Stage]) -> None:
    seen: set[str] = set()
    for stage in stages:
        if stage.name in seen:
            raise ConfigError(
                f"{stage.where}.name: {stage.name!r} is used by an earlier stage; names are unique"
            )
        seen.add(stage.name)
        if stage.kind == "distill" and "path" not in stage.head.model:
            raise ConfigError(
                f"{stage.where}.model.path: a distill stage trains a student: name it (e.g. a smaller model)"
            )


def check_stages(pipeline: Pipeline) -> None:
    """Build every stage's config as it will run (its start model being the pipeline's until then)."""
    data: dict[str, str] = {}
    start = pipeline.config.model.path
    for stage in pipeline.stages:
        if stage.kind in ("sft", "distill"):
            sft_config(pipeline.config, stage, start, data)
        elif stage.kind == "grpo":
            grpo_config(pipeline.config, stage, start)
        else:
            rejection_config(pipeline.config, stage, start)
            data[stage.name] = str(stage.folder(pipeline.run_dir) / "data.jsonl")


def dump_pipeline(pipeline: Pipeline) -> str:
    return yaml.safe_dump(pipeline.config.model_dump(mode="json"), sort_keys=False)


def check_environments_of(pipeline: Pipeline) -> None:
    """What `train --check` resolves without loading a model: every environment a stage or the summary
    names, its config and its rubric's rewards."""
    from rewardkit.trainer.config import EnvironmentConfig
    from rewardkit.trainer.envs import check_environments

    start, data = pipeline.config.model.path, {}
    for stage in pipeline.stages:
        if stage.kind == "grpo":
            _checked(check_environments, grpo_config(pipeline.config, stage, start).environments, stage.where)
        elif stage.kind == "rejection_sample":
            eval_config, _ = rejection_config(pipeline.config, stage, start)
            entries = [
                EnvironmentConfig(**env.model_dump(include=_SHARED)) for env in eval_config.environments
            ]
            _checked(check_environments, entries, stage.where)
            data[stage.name] = "data.jsonl"
        else:
            source = sft_config(pipeline.config, stage, start, data).data.environment
            if source is not None:
                entry = EnvironmentConfig(**source.model_dump(include=_SHARED))
                _checked(check_environments, [entry], f"{stage.where}.data", single="environment")
    summary = pipeline.config.summary
    if summary is not None:
        entries = [EnvironmentConfig(**env.model_dump(include=_SHARED)) for env in summary.environments]
        _checked(check_environments, entries, "summary")


_SHARED = {"name", "config", "rubric", "score_timeout"}


def _checked(check: Any, entries: list[Any], where: str, single: str | None = None) -> None:
    """Run `check`, naming the config's place of each entry in its errors (`single`: the key of a lone
    entry that is not a list item)."""
    try:
        check(entries)
    except ConfigError as error:
        message = _prefixed(str(error), where)
        if single is not None:
            message = message.replace(f"{where}.environments.0", f"{where}.{single}")
        raise ConfigError(message) from None
