"""Where scoring runs: here (the local pool: the host's loop and the plugins' worker processes), or spread
over a Ray cluster by `RayScorer`, an actor pool with the Scorer's interface.

Each actor builds its own environment and Scorer from a recipe (name, config, rubric) on its first call,
so nothing but plain data travels: environments are made where they run, with the plugins installed there.
`ray.init()` is called only when Ray is not running yet (inside another engine's Ray job the existing
cluster is used), and `ray.shutdown()` only by the RayScorer that started it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.host import PluginHost
from rewardkit.loading import RubricSpec, load_environment, make_rubric
from rewardkit.scoring import Scorer
from rewardkit.types import RewardResult, Sample, Trajectory

logger = logging.getLogger(__name__)

Executor = Literal["local", "ray"]
EXECUTORS: tuple[str, ...] = ("local", "ray")


@dataclass(frozen=True)
class Recipe:
    """How to build a Scorer anywhere the environment's plugin is installed."""

    env: str
    config: Mapping[str, Any] = field(default_factory=dict)
    rubric: RubricSpec | None = None
    timeout: float | None = None
    concurrency: int = 16

    def build(self) -> Scorer:
        environment = load_environment(self.env, **dict(self.config))
        rubric = make_rubric(self.rubric, env=environment) if self.rubric else None
        return Scorer(environment, rubric, timeout=self.timeout, concurrency=self.concurrency).start()


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: a running cluster, or a local one started here
    actors: int | None = None  # default: the cluster's CPUs
    num_cpus: int | None = None  # CPUs of a local cluster started here (default: all)
    object_store_mb: int = 256  # object store of a local cluster started here (scoring moves little data)


def make_scorer(
    env: Environment,
    rubric: RubricSpec | None = None,
    timeout: float | None = None,
    concurrency: int = 16,
    executor: str = "local",
    ray: RayOptions | None = None,
    host: PluginHost | None = None,
) -> Any:
    """A Scorer for `executor`: a local Scorer, or a RayScorer (same methods) for "ray". A RayScorer's
    actors find the environment and rubric in their own process's plugins."""
    if executor not in EXECUTORS:
        raise ConfigError(f"executor: {executor!r} is not one of {', '.join(EXECUTORS)}")
    built = make_rubric(rubric, env=env, host=host) if rubric else None
    if executor == "local":
        return Scorer(env, built, timeout=timeout, concurrency=concurrency)
    recipe = Recipe(env.name, env.config.model_dump(mode="json"), rubric, timeout, concurrency)
    return RayScorer(recipe, env, built, ray or RayOptions())


class RayScorer:
    """Scores on a pool of Ray actors; awaitable from any event loop, like Scorer. Each batch goes to the
    actor with the fewest in flight; an actor that dies fails its batch with error outcomes and is
    replaced."""

    def __init__(self, recipe: Recipe, env: Environment, rubric: Any, options: RayOptions) -> None:
        self.recipe, self.env, self.rubric, self.options = recipe, env, rubric, options
        local = Scorer(env, rubric, timeout=recipe.timeout, concurrency=recipe.concurrency)
        self.reward_range = local.reward_range
        self.timeout = local.timeout
        self.concurrency = recipe.concurrency
        self._actors: list[Any] = []
        self._in_flight: list[int] = []
        self._started_ray = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> RayScorer:
        if self._actors:
            return self
        ray = _ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.options.address:
                kwargs["address"] = self.options.address
            else:
                kwargs["object_store_memory"] = self.options.object_store_mb << 20
                if self.options.num_cpus:
                    kwargs["num_cpus"] = self.options.num_cpus
            ray.init(**kwargs)
            self._started_ray = True
        count = self.options.actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor_class = ray.remote(num_cpus=0)(ScoringActor)  # scoring's CPU work is in the env's own pools
        self._actors = [actor_class.remote(self.recipe) for _ in range(count)]
        self._in_flight = [0] * count
        ray.get([actor.ready.remote() for actor in self._actors])  # a broken environment fails here
        return self

    def close(self) -> None:
        ray = _ray()
        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> RayScorer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scoring -----------------------------------------------------------------------------------
    async def score_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        return await self._on_an_actor("score", samples, completions)

    async def score_trajectories(
        self, samples: Sequence[Sample], trajectories: Sequence[Trajectory]
    ) -> list[RewardResult]:
        """Finished trajectories scored by an actor, as `Scorer.score_trajectories` scores them."""
        return await self._on_an_actor("score_trajectories", samples, trajectories)

    async def _on_an_actor(
        self, method: str, samples: Sequence[Sample], answers: Sequence[Any]
    ) -> list[RewardResult]:
        if len(samples) != len(answers):
            raise ValueError(f"{len(samples)} samples but {len(answers)} answers")
        if not samples:
            return []
        self.start()
        index = min(range(len(self._actors)), key=self._in_flight.__getitem__)
        actor = self._actors[index]
        self._in_flight[index] += 1
        try:
            rows = await getattr(actor, method).remote(list(samples), list(answers))
        except Exception as error:  # the actor died or its call failed: the batch is an infrastructure error
            logger.warning("rewardkit ray actor failed: %s", error)
            self._replace(index, actor)
            message = f"ray actor failed: {type(error).__name__}: {str(error)[:300]}"
            return [RewardResult.failure(message)] * len(samples)
        finally:
            self._in_flight[index] -= 1
        return [RewardResult.from_dict(row) for row in rows]

    def score_batch_sync(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        return asyncio.run(self.score_batch(samples, completions))

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        return (await self.score_batch([sample], [completion]))[0]

    def score_sync(self, sample: Sample, completion: str) -> RewardResult:
        return self.score_batch_sync([sample], [completion])[0]

    def _replace(self, index: int, actor: Any) -> None:
        if self._actors and self._actors[index] is actor:
            self._actors[index] = _ray().remote(num_cpus=0)(ScoringActor).remote(self.recipe)


class ScoringActor:
    """A Ray actor scoring with its own Scorer, built from the recipe on first use."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.scorer: Scorer | None = None

    async def ready(self) -> str:
        await self._scorer()
        return self.recipe.env

    async def score(self, samples: list[Sample], completions: list[str]) -> list[dict[str, Any]]:
        scorer = await self._scorer()
        return [result.to_dict() for result in await scorer.score_batch(samples, completions)]

    async def score_trajectories(
        self, samples: list[Sample], trajectories: list[Trajectory]
    ) -> list[dict[str, Any]]:
        scorer = await self._scorer()
        return [result.to_dict() for result in await scorer.score_trajectories(samples, trajectories)]

    async def _scorer(self) -> Scorer:
        if self.scorer is None:
            self.scorer = await asyncio.to_thread(self.recipe.build)
        return self.scorer


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray: Ray is not installed; pip install 'rewardkit[ray]'") from None
    return ray
