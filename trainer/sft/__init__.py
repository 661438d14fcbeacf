"""Supervised fine-tuning (the cold start of DeepSeek-R1, SFT on rejection-sampled data, distillation):
`rewardkit train` runs it as a pipeline stage, `rewardkit.trainer.sft.train_sft` from Python.

Importing this package is light; torch and transformers load when training starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardkit.trainer.sft.config import SFTConfig, parse_sft_config

if TYPE_CHECKING:
    from rewardkit.environment import Environment
    from rewardkit.host import PluginHost
    from rewardkit.trainer.loop import TrainResult

__all__ = ["SFTConfig", "parse_sft_config", "train_sft"]


def train_sft(
    config: SFTConfig | Mapping[str, Any],
    overrides: Iterable[str] = (),
    resume: str | Path | None = None,
    host: PluginHost | None = None,
    environments: Mapping[str, Environment] | None = None,
) -> TrainResult:
    """Run SFT. `config` is an SFTConfig or a mapping; `overrides` are `key.sub=value`."""
    if not isinstance(config, SFTConfig) or overrides:
        data = config.model_dump() if isinstance(config, SFTConfig) else config
        config = parse_sft_config(data, overrides)
    from rewardkit.trainer.sft.loop import SFTTrainer
    from rewardkit.trainer.tracking import check_logging

    check_logging(config.logging)
    return SFTTrainer(config, host=host, environments=environments, resume=resume).train()
