"""Grading with a hard deadline: the symbolic stage runs in a worker process that is killed on overrun."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import Any

from rewardkit.deadline import queued
from rewardkit.isolation import ProcessPool, WorkerCrashed
from rewardkit.plugins.math.grader import GradeConfig, Pending, Verdict, finish, prepare
from rewardkit.plugins.math.symbolic import symbolic_match, warm_up
from rewardkit.singleton import process_singleton

# Exceptions a parser may raise on a strange answer: the answer's fault, so a 0, not an infrastructure error.
ANSWER_ERRORS = (ValueError, TypeError, ArithmeticError, RecursionError, AttributeError, NotImplementedError)

WARM_UP_TIMEOUT = 120.0  # starting workers that import sympy is slow on a loaded machine, but not a failure


@process_singleton(rebuild_after_fork=True)
def math_pool() -> ProcessPool:
    """One pool per process for all math grading; workers import sympy once at start (initializer)."""
    return ProcessPool(workers=min(4, os.cpu_count() or 1), initializer=warm_up)


class _WarmUp:
    """The pool's one warm-up, started by the first caller and again only after it failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._future: concurrent.futures.Future[None] | None = None

    def started(self) -> concurrent.futures.Future[None]:
        with self._lock:
            future = self._future
            failed = future is not None and future.done() and (future.cancelled() or future.exception())
            if future is None or failed:
                self._future = future = math_pool().submit(warm_up, timeout=WARM_UP_TIMEOUT)
            return future


@process_singleton(rebuild_after_fork=True)
def _warm_up() -> _WarmUp:
    return _WarmUp()


async def warm_pool() -> None:
    """Wait until a worker has imported sympy. Every caller waits on the same warm-up, started once, and
    a caller that gives up (its deadline) leaves it running for the others."""
    await asyncio.shield(asyncio.wrap_future(_warm_up().started()))


async def grade(gold: str, completion: str, config: GradeConfig, choices: Any = None) -> Verdict:
    """Grade one completion; cheap cases are decided in-process, the rest in a worker under a deadline.

    `choices` are the sample's multiple-choice options, if any (see `choices.resolve_options`).
    """
    step = prepare(gold, completion, config, choices)
    if isinstance(step, Verdict):
        return step
    return await _symbolic(step, config)


async def _symbolic(step: Pending, config: GradeConfig) -> Verdict:
    args = (step.golds, step.preds, config.rel_tol, config.rounded_match)
    with queued():  # starting the workers (importing sympy) is the pool's cost, not this sample's grading
        await warm_pool()
    try:
        equal = await math_pool().run(symbolic_match, *args, timeout=config.timeout)
    except TimeoutError:
        return Verdict(False, "timeout", step.extracted, step.strategy)
    except WorkerCrashed:
        return Verdict(False, "worker_crashed", step.extracted, step.strategy)
    except ANSWER_ERRORS as error:
        return Verdict(False, f"unparseable: {type(error).__name__}", step.extracted, step.strategy)
    return finish(step, bool(equal))
