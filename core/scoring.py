"""The host side of scoring: every environment is called through a Scorer, which enforces the contract.

A Scorer runs the environment's coroutines on a private loop thread and waits for them with a deadline
from the caller's side. That makes the timeout hold from any thread and inside any running event loop,
even when plugin code blocks its own loop; a blocked loop is abandoned and replaced.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence

from rewardkit.environment import Environment
from rewardkit.outcome import normalize
from rewardkit.rubric import Rubric, RubricItem, call_reward
from rewardkit.runtime import LoopThread
from rewardkit.types import RewardResult, Sample

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
# Grace the caller allows beyond the plugin deadline before declaring the plugin's loop stuck.
BACKSTOP_GRACE = 1.0


class Scorer:
    """Scores completions for one environment (optionally through a rubric), under the host's rules."""

    def __init__(
        self,
        env: Environment,
        rubric: Rubric | None = None,
        timeout: float | None = None,
        concurrency: int = 16,
    ) -> None:
        self.env = env
        self.rubric = rubric
        metadata = env.metadata()
        self.timeout = float(timeout or metadata.score_timeout or DEFAULT_TIMEOUT)
        self.concurrency = max(1, concurrency)
        self.reward_range = rubric.reward_range if rubric else metadata.reward_range
        self._env_item = RubricItem(env.name, env.score, 1.0, {}, metadata.reward_range)
        self._runner = LoopThread(f"rewardkit-{env.name}")
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Scorer:
        """Run the environment's setup (fail before step 0). Idempotent."""
        if not self._started:
            self._runner.run(self.env.setup())
            self._started = True
        return self

    def close(self) -> None:
        if self._started:
            try:
                self._runner.run(self.env.teardown(), timeout=30)
            except Exception as error:
                logger.warning("teardown of environment %s failed: %s", self.env.name, error)
            self._started = False
        self._runner.stop()

    def __enter__(self) -> Scorer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scoring -----------------------------------------------------------------------------------
    def score_batch_sync(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Blocking variant for trainers and scripts. Never raises for plugin failures."""
        self.start()
        future = self._runner.submit(self._score_batch(samples, completions))
        try:
            return future.result(self._batch_deadline(len(samples)) + BACKSTOP_GRACE)
        except TimeoutError:
            future.cancel()
            return self._stuck(len(samples))

    async def score_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Awaitable from any event loop; the work itself runs on the Scorer's own loop."""
        self.start()
        future = asyncio.wrap_future(self._runner.submit(self._score_batch(samples, completions)))
        try:
            return await asyncio.wait_for(future, self._batch_deadline(len(samples)) + BACKSTOP_GRACE)
        except asyncio.TimeoutError:
            return self._stuck(len(samples))

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        return (await self.score_batch([sample], [completion]))[0]

    def score_sync(self, sample: Sample, completion: str) -> RewardResult:
        return self.score_batch_sync([sample], [completion])[0]

    # -- internals (run on the Scorer's loop) -------------------------------------------------------
    async def _score_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        if len(samples) != len(completions):
            raise ValueError(f"{len(samples)} samples but {len(completions)} completions")
        if self.rubric is None and _overrides_score_batch(self.env):
            return await self._env_batch(samples, completions)
        limit = asyncio.Semaphore(self.concurrency)

        async def one(sample: Sample, completion: str) -> RewardResult:
            async with limit:
                return await self._score_one(sample, completion)

        return list(await asyncio.gather(*map(one, samples, completions)))

    async def _score_one(self, sample: Sample, completion: str) -> RewardResult:
        if self.rubric is None:
            return await call_reward(self._env_item, sample, completion, self.timeout)
        return await self.rubric.score(sample, completion, self.timeout)

    async def _env_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        deadline = self._batch_deadline(len(samples))
        try:
            raw = await asyncio.wait_for(self.env.score_batch(samples, completions), deadline)
        except asyncio.TimeoutError:
            return [
                RewardResult.failure(
                    f"{self.env.name}.score_batch timed out after {deadline:g}s", kind="timeout"
                )
            ] * len(samples)
        except Exception as error:
            message = f"{self.env.name}.score_batch raised {type(error).__name__}: {error}"
            return [RewardResult.failure(message, kind="exception")] * len(samples)
        if len(raw) != len(samples):
            message = f"{self.env.name}.score_batch returned {len(raw)} results for {len(samples)} samples"
            return [RewardResult.failure(message, kind="invalid_score")] * len(samples)
        return [normalize(r, self.env.name, self._env_item.reward_range) for r in raw]

    def _batch_deadline(self, n: int) -> float:
        return self.timeout * max(1, math.ceil(n / self.concurrency))

    def _stuck(self, n: int) -> list[RewardResult]:
        if not self._runner.responsive():
            logger.warning("environment %s blocked its event loop; starting a fresh one", self.env.name)
            self._runner = LoopThread(f"rewardkit-{self.env.name}")
        message = f"{self.env.name} did not return within its deadline (plugin code blocked its event loop)"
        return [RewardResult.failure(message, kind="timeout")] * n


def _overrides_score_batch(env: Environment) -> bool:
    return type(env).score_batch is not Environment.score_batch
