"""Running a pipeline: each stage in its own folder, each starting from the previous stage's final model.

    RUN/pipeline.yaml            the config, as `--resume` continues it
    RUN/pipeline.json            each stage's status and what it made
    RUN/summary.json             the held-out table (with a `summary` section)
    RUN/stages/01-NAME/          a stage's run folder: checkpoints, metrics.jsonl, its summary evaluations
                                 (rejection_sample: rollouts/ (an eval run) and data.jsonl)

A stage that was running when the run stopped continues from its own latest checkpoint; finished stages are
not run again. Rejection sampling and the summary run on the main process only (the others wait).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.host import PluginHost
from rewardkit.trainer.pipeline.config import (
    MODEL_STAGES,
    Pipeline,
    Stage,
    dump_pipeline,
    grpo_config,
    rejection_config,
    sft_config,
)
from rewardkit.trainer.pipeline.state import CONFIG_FILE, STATE_FILE, PipelineState, StageState


@dataclass
class PipelineResult:
    run_dir: Path
    stages: list[StageState]
    is_main_process: bool = True

    @property
    def model(self) -> str | None:
        """The final model of the last stage that made one."""
        made = [s.model for s in self.stages if s.model is not None]
        return made[-1] if made else None

    @property
    def summary(self) -> dict[str, dict[str, Any]]:
        return {s.name: s.summary for s in self.stages if s.summary is not None}


class PipelineRunner:
    def __init__(
        self,
        pipeline: Pipeline,
        resume: bool = False,
        host: PluginHost | None = None,
        environments: Mapping[str, Environment] | None = None,
    ) -> None:
        from accelerate import PartialState

        self.pipeline = pipeline
        self.config = pipeline.config
        self.run_dir = pipeline.run_dir
        self.host = host
        self.environments = environments
        self.process = PartialState()
        self.console = Console(stderr=True)
        self.state = self._state(resume)

    def _state(self, resume: bool) -> PipelineState:
        names = [(s.name, s.kind) for s in self.pipeline.stages]
        if resume:
            state = PipelineState.load(self.run_dir)
            state.matches(names)
            return state
        if (self.run_dir / STATE_FILE).exists():
            raise ConfigError(
                f"output_dir {self.run_dir}: already holds a pipeline run; continue it with "
                f"`rewardkit train --resume {self.run_dir}`, or choose another output_dir"
            )
        state = PipelineState(self.run_dir, [StageState(name, kind) for name, kind in names])
        if self.process.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / CONFIG_FILE).write_text(dump_pipeline(self.pipeline), encoding="utf-8")
            state.save()
        return state

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> PipelineResult:
        model = self.config.model.path
        data: dict[str, str] = {}
        for stage, record in zip(self.pipeline.stages, self.state.stages, strict=True):
            if record.status != "complete":
                self._run_stage(stage, record, model, data)
            model = record.model or model
            if record.data is not None:
                data[stage.name] = record.data
        if self.process.is_main_process and self.state.stages and any(s.summary for s in self.state.stages):
            self.print_summary()
        return PipelineResult(self.run_dir, self.state.stages, self.process.is_main_process)

    def _run_stage(self, stage: Stage, record: StageState, model: str, data: dict[str, str]) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        self._set(record, status="running")
        self.console.rule(
            f"[bold]stage {stage.index + 1}/{len(self.pipeline.stages)}: {stage.name} ({stage.kind})"
        )
        if stage.kind in MODEL_STAGES:
            record.model = self._train(stage, model, data)
            record.summary = self._summarize(stage, record.model)
        elif self.process.is_main_process:
            record.data = self._rejection_sample(stage, model)
        self.process.wait_for_everyone()
        record.seconds += time.perf_counter() - started
        record.cpu_seconds += time.process_time() - cpu
        self._set(record, status="complete")

    def _set(self, record: StageState, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(record, key, value)
        if self.process.is_main_process:
            self.state.save()

    # -- the stages --------------------------------------------------------------------------------
    def _train(self, stage: Stage, model: str, data: Mapping[str, str]) -> str:
        """Train the stage (continuing its own latest checkpoint) and return its final model's folder."""
        from rewardkit.trainer import checkpoint as ckpt

        folder = stage.folder(self.run_dir)
        resume = folder if ckpt.list_checkpoints(folder) else None
        if stage.kind == "grpo":
            from rewardkit.trainer.loop import GRPOTrainer

            grpo = grpo_config(self.config, stage, model)
            trainer: Any = GRPOTrainer(grpo, self.host, self.environments, resume=resume)
            model_config = grpo.model
        else:
            from rewardkit.trainer.sft.loop import SFTTrainer

            sft = sft_config(self.config, stage, model, data)
            trainer = SFTTrainer(sft, self.host, self.environments, resume=resume)
            model_config = sft.model
        trainer.train()
        del trainer
        gc.collect()
        return final_model(ckpt.find_checkpoint(folder), model_config)

    def _rejection_sample(self, stage: Stage, model: str) -> str:
        from rewardkit.evaluation import rundir
        from rewardkit.evaluation.export import ExportOptions, export
        from rewardkit.evaluation.run import evaluate

        eval_config, settings = rejection_config(self.config, stage, model)
        folder = stage.folder(self.run_dir)
        rollouts = folder / "rollouts"
        evaluate(eval_config, rollouts, resume=rundir.metadata_path(rollouts).exists(), host=self.host)
        target = folder / "data.jsonl"
        stats = export(rollouts, target, ExportOptions(**settings.model_dump()))
        if not stats.rows:
            raise ConfigError(
                f"{stage.where}: rejection sampling kept no rollout ({stats.rollouts} generated, "
                f"{stats.unusable} unusable); loosen export (select, threshold, pass_band) or sample more"
            )
        self.console.print(
            f"{stage.name}: {stats.rows} rows from {stats.rollouts} rollouts of {stats.prompts} prompts "
            f"-> {target}"
        )
        return str(target)

    def _summarize(self, stage: Stage, model: str) -> dict[str, Any] | None:
        if self.config.summary is None:
            return None
        from rewardkit.trainer.pipeline.summary import summarize

        row = None
        if self.process.is_main_process:
            dtype = {**self.config.model.model_dump(), **stage.head.model}["dtype"]
            row = summarize(self.pipeline, model, dtype, stage.folder(self.run_dir) / "summary", self.host)
        return row

    def print_summary(self) -> None:
        rows = {s.name: s.summary for s in self.state.stages if s.summary}
        columns = list(dict.fromkeys(key for row in rows.values() for key in row))
        table = Table(title=f"held-out summary ({self.run_dir / 'summary.json'})")
        table.add_column("stage")
        for column in columns:
            table.add_column(column, justify="right")
        for name, row in rows.items():
            table.add_row(name, *(_cell(row.get(column)) for column in columns))
        self.console.print(table)


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def final_model(checkpoint: Path, model_config: Any) -> str:
    """The folder the next stage loads: the checkpoint itself, or with LoRA its adapter merged into the
    base (written once, beside it, as `merged-model/`)."""
    from rewardkit.trainer.checkpoint import ADAPTER_CONFIG

    if not (checkpoint / ADAPTER_CONFIG).is_file():
        return str(checkpoint)
    target = checkpoint.parent / "merged-model"
    if not (target / "config.json").is_file():
        from peft import PeftModel

        from rewardkit.trainer.models import load_models

        models = load_models(model_config, beta=0.0, weights_dir=checkpoint)
        assert isinstance(models.policy, PeftModel)
        merged = models.policy.merge_and_unload()
        tmp = target.with_name(target.name + ".partial")
        merged.save_pretrained(tmp)
        models.tokenizer.save_pretrained(tmp)
        tmp.rename(target)
    return str(target)


def run_pipeline(
    pipeline: Pipeline,
    resume: bool = False,
    host: PluginHost | None = None,
    environments: Mapping[str, Environment] | None = None,
) -> PipelineResult:
    return PipelineRunner(pipeline, resume, host, environments).run()
