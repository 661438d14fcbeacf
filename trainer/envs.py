"""Resolving the config's environments (installed plugins, or objects injected by tests and notebooks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError, RewardkitError
from rewardkit.host import PluginHost, get_host
from rewardkit.loading import make_rubric
from rewardkit.rubric import Rubric
from rewardkit.scoring import Scorer
from rewardkit.trainer.config import EnvironmentConfig
from rewardkit.trainer.data import take
from rewardkit.types import Sample


@dataclass
class EnvSlot:
    key: str  # unique within the run; used in metric names
    env: Environment
    scorer: Scorer
    samples: list[Sample]
    weight: float


def run_keys(entries: list[EnvironmentConfig]) -> list[str]:
    names = [entry.name for entry in entries]
    return [name if names.count(name) == 1 else f"{name}[{i}]" for i, name in enumerate(names)]


def build_slots(
    entries: list[EnvironmentConfig],
    host: PluginHost | None = None,
    injected: Mapping[str, Environment] | None = None,
) -> list[EnvSlot]:
    """One slot per configured environment: instance, rubric-aware Scorer and its (capped) samples."""
    host = host or get_host()
    slots = []
    for index, (key, entry) in enumerate(zip(run_keys(entries), entries, strict=True)):
        where = f"environments.{index}"
        env = _instance(entry, host, injected or {}, where)
        rubric = _rubric(entry, env, host, where)
        samples = _samples(entry, env, where)
        scorer = Scorer(env, rubric=rubric, timeout=entry.score_timeout)
        slots.append(EnvSlot(key, env, scorer, samples, entry.weight))
    return slots


def check_environments(entries: list[EnvironmentConfig], host: PluginHost | None = None) -> None:
    """What `train --check` resolves without loading a model or data: each environment's name and config,
    and its rubric's rewards and their parameters."""
    host = host or get_host()
    for index, entry in enumerate(entries):
        where = f"environments.{index}"
        _rubric(entry, _instance(entry, host, {}, where), host, where)


def _rubric(entry: EnvironmentConfig, env: Environment, host: PluginHost, where: str) -> Rubric | None:
    try:
        return make_rubric(entry.rubric, env=env, host=host) if entry.rubric else None
    except ConfigError as error:
        raise ConfigError(f"{where}.{error}") from None


def _samples(entry: EnvironmentConfig, env: Environment, where: str) -> list[Sample]:
    """The samples, each checked against the fields the environment reads (a dataset whose columns did
    not map to them would otherwise train on `None` rewards)."""
    try:
        samples = take(env.dataset(entry.split), entry.max_samples)
    except ConfigError as error:
        raise ConfigError(f"{where} ({entry.name}): {error}") from None
    for sample in samples:
        problem = env.sample_format.problem(sample)
        if problem is not None:
            raise ConfigError(
                f"{where} ({entry.name}): sample {sample.id!r} {problem}; map the dataset's columns to "
                f"these fields (data.columns); `rewardkit envs show {entry.name}` lists them"
            )
    return samples


def _instance(
    entry: EnvironmentConfig, host: PluginHost, injected: Mapping[str, Environment], where: str
) -> Environment:
    if entry.name in injected:
        if entry.config:
            raise ConfigError(
                f"{where}.config: {entry.name!r} was passed as an object; configure it directly"
            )
        return injected[entry.name]
    try:
        cls = host.environment(entry.name).cls
    except KeyError as error:
        raise ConfigError(f"{where}.name: {error}") from None
    try:
        return cls(entry.config)
    except RewardkitError as error:
        # The environment names its own config root; point at this run's config instead.
        raise ConfigError(str(error).replace(f"{cls.name}.config", f"{where}.config")) from None
