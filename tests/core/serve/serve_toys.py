"""Toy environments for the server's tests, installed as a plugin distribution the server process finds.

`toy.echo` scores 1 when the completion equals the answer; "sleep:S" sleeps S seconds first. `toy.crash`
scores in a rewardkit worker process that writes its pid to the sample's `info.pidfile` and then waits, so
a test can kill it mid-request; a dead worker is an error outcome. `toy.turns` is an episode environment
that scores the whole trajectory (1 when the model took `answer` turns).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import rewardkit as rk
from rewardkit.episodes import EpisodeEnvironment
from rewardkit.isolation import ProcessPool


class ToyEcho(rk.Environment):
    """Scores 1.0 when the completion equals the answer."""

    name = "toy.echo"

    def dataset(self, split):
        for i in range(5):
            yield rk.Sample(id=f"{split}-{i}", prompt=[rk.user(f"say {i}")], answer=str(i))

    async def score(self, sample, completion):
        if completion.startswith("sleep:"):
            await asyncio.sleep(float(completion.split(":")[1]))
            return 1.0
        return rk.RewardResult(float(completion == sample.answer), components={"length": len(completion)})


def wait_in_worker(pidfile: str) -> float:
    Path(pidfile).write_text(str(os.getpid()))
    time.sleep(60)
    return 1.0


_pool: ProcessPool | None = None


class ToyCrash(rk.Environment):
    """Scores in a worker process that a test kills."""

    name = "toy.crash"
    score_timeout = 90.0

    def dataset(self, split):
        yield rk.Sample(id="only", prompt=[rk.user("wait")], info={})

    async def score(self, sample, completion):
        global _pool
        _pool = _pool or ProcessPool(workers=1)
        return await _pool.run(wait_in_worker, sample.info["pidfile"], timeout=80)


class ToyTurns(EpisodeEnvironment):
    """An episode environment scoring the whole trajectory: 1.0 when the model took `answer` turns."""

    name = "toy.turns"

    def dataset(self, split):
        yield rk.Sample(id="two", prompt=[rk.user("answer twice")], answer="2")

    async def score_trajectory(self, sample, trajectory):
        turns = sum(1 for message in trajectory.messages if message["role"] == "assistant")
        return float(str(turns) == sample.answer)


@rk.hookimpl
def register_environments(register):
    register(ToyEcho)
    register(ToyCrash)
    register(ToyTurns)
