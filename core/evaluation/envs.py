"""Building the run's environments from its config: instance, rubric-aware Scorer, split and samples."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError, RewardkitError
from rewardkit.evaluation.config import EvalConfig, EvalEnvironment, run_keys
from rewardkit.executors import RayOptions, RayScorer, make_scorer
from rewardkit.host import PluginHost, get_host
from rewardkit.scoring import Scorer
from rewardkit.types import Sample

# Without -n, a split is read to its end; an endless (procedural) one must be capped by the user.
MAX_PROMPTS = 10_000


@dataclass
class EvalEnv:
    key: str  # unique within the run; the `env` of its records and its name in the metrics
    spec: EvalEnvironment
    env: Environment
    scorer: Scorer | RayScorer
    rollouts: int

    @property
    def reward_range(self) -> tuple[float, float]:
        return self.scorer.reward_range

    @property
    def threshold(self) -> float | None:
        return self.spec.pass_threshold

    def describe(self, split: str | None = None) -> dict[str, object]:
        out: dict[str, object] = {
            "name": self.env.name,
            "metadata": self.env.metadata().to_dict(),
            "reward_range": list(self.reward_range),
            "rollouts": self.rollouts,
        }
        if split is not None:
            out["split"] = split
        return out


def build_envs(
    config: EvalConfig,
    overrides: Mapping[str, Sequence[str]] | None = None,
    host: PluginHost | None = None,
) -> list[EvalEnv]:
    """One EvalEnv per configured environment. `overrides` maps a key to extra `key=value` config fields."""
    from rewardkit.overrides import apply_overrides

    host = host or get_host()
    out = []
    for index, (key, spec) in enumerate(zip(run_keys(config.environments), config.environments, strict=True)):
        where = f"environments.{index}"
        values = apply_overrides(spec.config, (overrides or {}).get(key, ()))
        env = _instance(spec.name, values, host, where)
        ray = RayOptions(address=config.scoring.ray_address, actors=config.scoring.ray_actors)
        try:
            scorer = make_scorer(
                env, spec.rubric, spec.score_timeout, executor=config.scoring.executor, ray=ray, host=host
            )
        except ConfigError as error:
            raise ConfigError(f"{where}.{error}") from None
        out.append(EvalEnv(key, spec, env, scorer, config.env_rollouts(spec)))
    return out


def _instance(name: str, values: dict, host: PluginHost, where: str) -> Environment:
    try:
        cls = host.environment(name).cls
    except KeyError as error:
        raise ConfigError(f"{where}.name: {error}") from None
    try:
        return cls(values)
    except RewardkitError as error:
        raise ConfigError(str(error).replace(f"{cls.name}.config", f"{where}.config")) from None


def choose_split(env: Environment, requested: str | None) -> str:
    if requested is not None:
        return requested
    splits = env.metadata().splits
    return "test" if "test" in splits or not splits else splits[0]


def read_samples(env: Environment, split: str, limit: int | None, where: str) -> list[Sample]:
    cap = limit if limit is not None else MAX_PROMPTS + 1
    samples = list(itertools.islice(env.dataset(split), cap))
    if limit is None and len(samples) > MAX_PROMPTS:
        raise ConfigError(
            f"{where}: split {split!r} of {env.name} has more than {MAX_PROMPTS} samples (it may be "
            "endless); choose how many with -n / num_prompts"
        )
    if not samples:
        declared = ", ".join(env.metadata().splits)
        raise ConfigError(f"{where}.split: {split!r} of {env.name} has no samples (its splits: {declared})")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: {env.name} split {split!r} repeats sample ids; rollouts are keyed by id")
    return samples


def close_envs(envs: Sequence[EvalEnv]) -> None:
    for env in envs:
        env.scorer.close()
