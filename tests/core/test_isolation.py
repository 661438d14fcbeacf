"""The process pool kills a stuck worker at its deadline and keeps serving."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from rewardkit.isolation import ProcessPool, WorkerCrashed


def spin() -> None:
    while True:
        pass


def add(a: int, b: int) -> int:
    return a + b


def die() -> None:
    os._exit(3)


@pytest.fixture(scope="module")
def pool():
    pool = ProcessPool(workers=1)
    yield pool
    pool.close()


def test_hard_timeout_kills_and_replaces_the_worker(pool):
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="killed"):
        pool.run_sync(spin, timeout=0.5)
    assert time.perf_counter() - started < 2.0
    assert pool.run_sync(add, 2, 3, timeout=10) == 5


def test_works_inside_a_running_event_loop(pool):
    async def main():
        with pytest.raises(TimeoutError):
            await pool.run(spin, timeout=0.3)
        return await pool.run(add, 1, 1, timeout=10)

    assert asyncio.run(main()) == 2


def test_a_crashing_worker_is_reported(pool):
    with pytest.raises(WorkerCrashed):
        pool.run_sync(die, timeout=5)
    assert pool.run_sync(add, 1, 2, timeout=10) == 3
