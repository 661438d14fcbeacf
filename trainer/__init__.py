"""The bundled GRPO trainer: `rewardkit train CONFIG` or `rewardkit.trainer.train(...)`.

Importing this package is light: the plugin host imports it for the `train` command on every
`rewardkit` call, so the config models (and yaml) load on first use, torch and transformers when training
starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rewardkit.environment import Environment
    from rewardkit.host import PluginHost
    from rewardkit.trainer.config import TrainConfig, load_config, parse_config
    from rewardkit.trainer.loop import TrainResult
    from rewardkit.trainer.process import configure_process

__all__ = ["TrainConfig", "configure_process", "load_config", "parse_config", "train"]
__getattr__ = lazy_exports(
    __name__,
    {
        "TrainConfig": "rewardkit.trainer.config",
        "load_config": "rewardkit.trainer.config",
        "parse_config": "rewardkit.trainer.config",
        "configure_process": "rewardkit.trainer.process",
    },
)


def train(
    config: TrainConfig | Mapping[str, Any] | str | Path,
    overrides: Iterable[str] = (),
    resume: str | Path | None = None,
    host: PluginHost | None = None,
    environments: Mapping[str, Environment] | None = None,
) -> TrainResult:
    """Run GRPO. `config` is a TrainConfig, a mapping or a YAML path; `overrides` are `key.sub=value`.

    `host` / `environments` inject a plugin host or ready-made Environment objects (tests, notebooks);
    by default environments are resolved by name among the installed plugins.

    Changes no process-wide state: call `configure_process(config)` first for the config's `threads`
    and the vLLM backend's environment variables, as `rewardkit train` does.
    """
    from rewardkit.trainer.config import TrainConfig, load_config, parse_config

    if isinstance(config, str | Path):
        config = load_config(config, overrides)
    elif not isinstance(config, TrainConfig):
        config = parse_config(config, overrides)
    elif overrides:
        config = parse_config(config.model_dump(), overrides)
    from rewardkit.trainer.loop import GRPOTrainer
    from rewardkit.trainer.tracking import check_logging

    check_logging(config.logging)  # before the model loads, not after

    return GRPOTrainer(config, host=host, environments=environments, resume=resume).train()
