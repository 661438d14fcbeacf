"""The typed config of an SFT stage: the GRPO trainer's model, optimizer, logging and checkpoint sections,
plus where the chat data comes from and how the held-out rows are evaluated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from rewardkit.data import DataSource
from rewardkit.errors import config_error
from rewardkit.overrides import apply_overrides
from rewardkit.trainer.config import (
    CheckpointConfig,
    LoggingConfig,
    ModelConfig,
    OptimConfig,
    Strict,
)


class ReferenceSource(Strict):
    """Rows made from an environment's own reference completions (a cold start needs no data file)."""

    name: str = Field(description="an installed environment (see `rewardkit envs`)")
    config: dict[str, Any] = {}
    split: str = "train"
    rubric: dict[str, float | dict[str, Any]] | None = Field(
        None, description="how held-out replies are scored (default: the environment's own score)"
    )
    score_timeout: float | None = Field(None, gt=0.0)


class SFTDataConfig(DataSource):
    """Chat rows: a file or Hugging Face dataset with a `messages` column (what `rewardkit export`
    writes), or `environment`: its samples' prompts with the environment's reference completions.
    `limit` caps the rows read (an environment's stream at 10,000 when unset); `eval_rows` of them are
    held out."""

    environment: ReferenceSource | None = Field(
        None, description="make rows from this environment's reference completions instead of a file"
    )
    messages: str = Field("messages", description="the column holding each row's chat messages")
    eval_rows: int = Field(
        0, ge=0, description="rows held out of training: eval loss, and accuracy for environment rows"
    )

    @model_validator(mode="after")
    def _one_source(self) -> SFTDataConfig:
        given = [self.path is not None, self.hub is not None, self.environment is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of `path` (a file or datasets folder), `hub`, `environment`")
        return self


class SFTEvalConfig(Strict):
    """Evaluation on the held-out rows (`data.eval_rows`) every `every` steps and after the last."""

    every: int = Field(gt=0, description="evaluate after every N optimizer steps")
    rollouts: int = Field(4, gt=0, description="sampled replies per held-out prompt (environment rows)")
    temperature: float = Field(1.0, ge=0.0, description="0: greedy")
    max_new_tokens: int = Field(64, gt=0)
    stop_at: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="end the stage once held-out accuracy reaches this: a cold start for RL is best "
        "stopped early, before it has learnt all it could from the demonstrations",
    )


class SFTConfig(Strict):
    name: str = "sft"
    output_dir: str = "runs/{name}"
    seed: int = 0
    threads: int | None = Field(None, gt=0, description="torch CPU threads; default: torch's choice")
    model: ModelConfig
    data: SFTDataConfig
    batch_size: int = Field(32, gt=0, description="rows per optimizer step (all processes together)")
    max_length: int = Field(1024, gt=0, description="longer rows keep their first tokens")
    optim: OptimConfig = OptimConfig(lr=1e-5)
    logging: LoggingConfig = LoggingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    eval: SFTEvalConfig | None = None

    @model_validator(mode="after")
    def _eval_has_rows(self) -> SFTConfig:
        if self.eval is not None and self.data.eval_rows == 0:
            raise ValueError("eval needs held-out rows: set data.eval_rows (e.g. 64)")
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name))


def parse_sft_config(data: Mapping[str, Any], overrides: Iterable[str] = (), root: str = "") -> SFTConfig:
    """Validate an SFT config mapping with `key.sub=value` overrides applied. Raises ConfigError."""
    values = apply_overrides(data, overrides)
    try:
        return SFTConfig.model_validate(values)
    except ValidationError as error:
        raise config_error(error, SFTConfig, root) from None
