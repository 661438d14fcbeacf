"""One-step-off generation: the next rollout generates (on the server's devices) while the trainer scores
and optimizes this one, as verl's and prime-rl's one-step-off pipelines do.

Its weights are those of the step it was started at, so the policy it trains lags its sampler by one
rollout (staleness bound 1: a rollout is never generated more than one rollout ahead). The trainer's
truncated importance sampling (`grpo.tis_cap`) weights each token by the trainer's over the sampler's
probability, which corrects for that lag as it does for engine-vs-trainer numerics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class OneStepOff(Generic[T]):
    """The rollout generating ahead, and the data position from before its prompts were drawn (a checkpoint
    taken meanwhile must resume with those prompts, not after them)."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rk-generate-ahead")
        self.future: Future[T] | None = None
        self.data_state: dict[str, Any] = {}

    def start(self, generate: Callable[..., T], *args: Any) -> None:
        self.future = self.pool.submit(generate, *args)

    def wait(self) -> None:
        """Until the rollout generating ahead is complete (its result stays to be taken)."""
        if self.future is not None:
            wait([self.future])

    def result(self) -> tuple[T, float]:
        """The rollout generated ahead, and how long the trainer waited for it."""
        assert self.future is not None
        started = time.perf_counter()
        try:
            return self.future.result(), time.perf_counter() - started
        finally:
            self.future = None

    @staticmethod
    def metrics(generate_seconds: float, waited: float, lag: int) -> dict[str, float]:
        return {
            "async/generate_wait": waited,
            # Share of the generation hidden behind training: 1 = the trainer never waited for it.
            "async/overlap": max(0.0, 1.0 - waited / generate_seconds) if generate_seconds > 0 else 0.0,
            "async/policy_lag": float(lag),  # optimizer steps between the sampling and the trained weights
        }

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
