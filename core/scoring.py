"""The host side of scoring: every environment is called through a Scorer, which enforces the contract.

Scoring runs on the host's one scoring loop (`rewardkit.runtime`). Each sample has a deadline of its own
work (`rewardkit.deadline`): it starts when the sample's scoring starts, not while it is queued. The
caller waits from its own thread or event loop under a backstop, so nothing hangs forever even when a
plugin blocks the loop for good.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rewardkit.deadline import METER, DeadlineExceeded, within_deadline
from rewardkit.environment import Environment
from rewardkit.outcome import normalize
from rewardkit.rubric import Rubric, RubricItem, call_reward
from rewardkit.runtime import host_loop
from rewardkit.types import RewardResult, Sample, Trajectory

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
# The caller's backstop: every sample's own deadline run one after the other, plus room for the shared
# resources they wait for (not charged to them) to come up: a worker pool's start, a judge model's load.
BACKSTOP_GRACE = 120.0
# A single step holding the loop this long past the deadline means the loop is blocked for good.
STALL_GRACE = 30.0
POLL = 0.25  # seconds between the caller's checks of its backstop


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
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Scorer:
        """Run the environment's setup on the scoring loop (fail before step 0). Idempotent."""
        with self._lock:
            if not self._started:
                host_loop().run(self.env.setup())
                self._started = True
        return self

    def close(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        try:
            host_loop().run(self.env.teardown(), timeout=30)
        except Exception as error:
            logger.warning("teardown of environment %s failed: %s", self.env.name, error)

    def __enter__(self) -> Scorer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- scoring -----------------------------------------------------------------------------------
    def submit(self, samples: Sequence[Sample], completions: Sequence[str]) -> Scoring:
        """Start scoring on the host's loop and return at once; `.result()` waits for the results."""
        if len(samples) != len(completions):
            raise ValueError(f"{len(samples)} samples but {len(completions)} completions")
        self.start()
        future = host_loop().submit(self._score_batch(list(samples), list(completions)))
        return Scoring(future, len(samples), self.env.name, self.timeout)

    def score_batch_sync(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Blocking variant for trainers and scripts. Never raises for plugin failures."""
        host_loop().refuse_blocking_from_the_loop()
        return self.submit(samples, completions).result()

    async def score_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Awaitable from any event loop; the work itself runs on the host's scoring loop."""
        return await self.submit(samples, completions).wait()

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        return (await self.score_batch([sample], [completion]))[0]

    def score_sync(self, sample: Sample, completion: str) -> RewardResult:
        return self.score_batch_sync([sample], [completion])[0]

    async def score_trajectories(
        self, samples: Sequence[Sample], trajectories: Sequence[Trajectory]
    ) -> list[RewardResult]:
        """Outcomes of finished trajectories: an episode environment's each scored whole (every turn, under
        the host's rules, as an episode's end scores it); any other environment's final replies as a batch."""
        from rewardkit.episodes import is_episodic, score_trajectory  # episodes import this module

        if len(samples) != len(trajectories):
            raise ValueError(f"{len(samples)} samples but {len(trajectories)} trajectories")
        if not is_episodic(self.env):
            return await self.score_batch(samples, [t.completion for t in trajectories])
        self.start()
        pairs = zip(samples, trajectories, strict=True)
        scored = (score_trajectory(self.env, s, t, self.rubric, self.timeout) for s, t in pairs)
        return list(await asyncio.gather(*scored))

    # -- internals (run on the scoring loop) --------------------------------------------------------
    async def _score_batch(self, samples: list[Sample], completions: list[str]) -> list[RewardResult]:
        if self.rubric is None and _overrides_score_batch(self.env):
            return await self._env_batch(samples, completions)
        # `concurrency` workers take the samples in turn: a sample's deadline starts once it gets its turn,
        # and a batch costs a task per worker, not one per sample.
        results: dict[int, RewardResult] = {}
        turns = iter(range(len(samples)))

        async def worker() -> None:
            for index in turns:
                results[index] = await self._score_one(samples[index], completions[index])

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(samples)))))
        return [results[index] for index in range(len(samples))]

    async def _score_one(self, sample: Sample, completion: str) -> RewardResult:
        if self.rubric is None:
            return await call_reward(self._env_item, sample, completion, self.timeout)
        return await self.rubric.score(sample, completion, self.timeout)

    async def _env_batch(self, samples: list[Sample], completions: list[str]) -> list[RewardResult]:
        deadline = self.timeout * max(1, math.ceil(len(samples) / self.concurrency))
        name = f"{self.env.name}.score_batch"
        try:
            raw = await within_deadline(self.env.score_batch(samples, completions), deadline, name)
        except DeadlineExceeded as error:
            return [RewardResult.failure(str(error), kind="timeout")] * len(samples)
        except Exception as error:
            message = f"{name} raised {type(error).__name__}: {error}"
            return [RewardResult.failure(message, kind="exception")] * len(samples)
        if len(raw) != len(samples):
            message = f"{name} returned {len(raw)} results for {len(samples)} samples"
            return [RewardResult.failure(message, kind="invalid_score")] * len(samples)
        return [normalize(r, self.env.name, self._env_item.reward_range) for r in raw]


@dataclass
class Scoring:
    """A batch being scored on the host's loop. The caller waits under a backstop: the batch's samples'
    deadlines back to back, or less when one plugin step has blocked the loop far past any deadline."""

    future: concurrent.futures.Future[list[RewardResult]]
    size: int
    env_name: str
    timeout: float

    def __post_init__(self) -> None:
        self.submitted = time.monotonic()
        self.finished: float | None = None
        self.future.add_done_callback(self._finish)

    def _finish(self, _: object) -> None:
        self.finished = time.monotonic()

    @property
    def seconds(self) -> float:
        """How long the batch has been (or was) scoring."""
        return (self.finished or time.monotonic()) - self.submitted

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> list[RewardResult]:
        """Wait (blocking this thread) for the results."""
        while True:
            try:
                return self.future.result(POLL)
            except concurrent.futures.TimeoutError:
                if self.future.done():
                    raise  # the scoring itself raised it, not the wait
                if (failures := self._given_up()) is not None:
                    return failures
            except KeyboardInterrupt:
                self.future.cancel()  # the caller gave up: so does the scoring on the host's loop
                raise

    async def wait(self) -> list[RewardResult]:
        """Wait (from any event loop) for the results."""
        future = asyncio.wrap_future(self.future)
        while True:
            try:
                done, _ = await asyncio.wait({future}, timeout=POLL)
            except asyncio.CancelledError:
                self.future.cancel()  # the caller gave up: so does the scoring on the host's loop
                raise
            if done:
                return future.result()
            if (failures := self._given_up()) is not None:
                return failures

    def _given_up(self) -> list[RewardResult] | None:
        backstop = self.timeout * self.size + BACKSTOP_GRACE
        blocked = METER.blocked()
        if blocked is not None and blocked[1] > self.timeout + STALL_GRACE:
            message = (
                f"{blocked[0]} has blocked the host's scoring loop for {blocked[1]:.0f}s, so {self.env_name} "
                "cannot score; a reward must await, not block (move blocking work to a sync function or "
                "a worker pool)"
            )
        elif time.monotonic() - self.submitted > backstop:
            message = f"{self.env_name} did not return within {backstop:g}s (the batch's backstop)"
        else:
            return None
        self.future.cancel()
        logger.warning("%s", message)
        return [RewardResult.failure(message, kind="timeout")] * self.size


def _overrides_score_batch(env: Environment) -> bool:
    return type(env).score_batch is not Environment.score_batch
