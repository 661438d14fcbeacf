"""User-facing lookups: environments and rubrics by name, from whatever plugins are installed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.host import PluginHost, PluginInfo, get_host
from rewardkit.rubric import Rubric

RubricSpec = Mapping[str, float | Mapping[str, Any]]
"""`{"math.accuracy": 1.0, "format.length": {"weight": 0.1, "target": 200}}`"""


def load_environment(name: str, /, **config: Any) -> Environment:
    """Instantiate an installed environment by name (or alias) with its typed config."""
    return get_host().environment(name).cls(config)


def list_environments() -> list[str]:
    return sorted(get_host().environments)


def get_plugins() -> list[PluginInfo]:
    return list(get_host().plugins.values())


def make_rubric(spec: RubricSpec, env: Environment | None = None, host: PluginHost | None = None) -> Rubric:
    """Build a rubric from config. Names are registered rewards, or the environment's own name."""
    host = host or get_host()
    rubric = Rubric()
    for name, entry in spec.items():
        weight, params = _weight_and_params(name, entry)
        if env is not None and name in (env.name, "env"):
            if params:
                raise ConfigError(
                    f"rubric.{name}: the environment's own score takes no parameters; "
                    "set them in the environment's config instead"
                )
            rubric.add(env.name, env.score, weight, env.metadata().reward_range)
            continue
        try:
            reward = host.reward(name)
        except KeyError as error:
            raise ConfigError(f"rubric.{name}: {error}") from None
        rubric.add(name, reward.fn, weight, reward.reward_range, **params)
    if not rubric.items:
        raise ConfigError("rubric: empty; name at least one reward with a weight")
    return rubric


def _weight_and_params(name: str, entry: Any) -> tuple[float, dict[str, Any]]:
    if isinstance(entry, bool):
        raise ConfigError(
            f"rubric.{name}: expected a weight (number) or a mapping with 'weight', got {entry!r}"
        )
    if isinstance(entry, int | float):
        return float(entry), {}
    if isinstance(entry, Mapping):
        params = dict(entry)
        weight = params.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ConfigError(f"rubric.{name}.weight: expected a number, got {weight!r}")
        return float(weight), params
    raise ConfigError(f"rubric.{name}: expected a weight (number) or a mapping with 'weight', got {entry!r}")
