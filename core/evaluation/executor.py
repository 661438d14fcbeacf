"""Running rollouts: generation `concurrency` at a time, each finished rollout scored at once.

Scoring overlaps the generation of the others, and every record is appended to rollouts.jsonl as soon as it
is scored (one flushed line), so a killed run loses at most the rollouts in flight. An episode is scored by
its session when it ends; a stored trajectory (rescore, resume) is scored here, whole.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.evaluation import rundir
from rewardkit.evaluation.batching import MicroBatcher
from rewardkit.evaluation.envs import EvalEnv
from rewardkit.evaluation.policy import GenerationError, Rollout, RolloutRunner
from rewardkit.records import RecordWriter, RolloutRecord
from rewardkit.types import RewardResult, Sample, Trajectory

OnRecord = Callable[[RolloutRecord], None]


@dataclass(frozen=True)
class Job:
    env: EvalEnv
    sample: Sample
    rollout: int
    previous: RolloutRecord | None = None  # an errored record being redone

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.env.key, self.sample.id, self.rollout)


def rollout_seed(seed: int, key: tuple[str, str, int]) -> int:
    """A per-rollout seed that depends only on the run's seed and the rollout's key, so a resumed or a
    repeated run asks for the same draw."""
    digest = hashlib.sha256(repr((seed, *key)).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def plan_jobs(
    envs: Sequence[EvalEnv],
    samples: Mapping[str, list[Sample]],
    done: Mapping[tuple[str, str, int], RolloutRecord],
) -> list[Job]:
    """Every rollout still to do: missing ones, and errored ones (redone)."""
    jobs = []
    for env in envs:
        for sample in samples[env.key]:
            for index in range(env.rollouts):
                previous = done.get((env.key, sample.id, index))
                if previous is None or previous.result.error is not None:
                    jobs.append(Job(env, sample, index, previous))
    return jobs


class Executor:
    """Runs jobs: generation `concurrency` at a time, scoring per environment as rollouts arrive.

    `runners` maps an environment's key to its RolloutRunner. A job with a previous record whose generation
    succeeded is only scored again. Without a runner (`rescore`), a job whose generation had failed keeps
    its record as it is."""

    def __init__(
        self,
        runners: Mapping[str, RolloutRunner],
        writer: RecordWriter,
        seed: int,
        concurrency: int,
        on_record: OnRecord | None = None,
    ) -> None:
        self.runners = runners
        self.writer = writer
        self.seed = seed
        self.concurrency = max(1, concurrency)
        self.on_record = on_record
        self._scoring: set[asyncio.Task[None]] = set()
        self._scorers: dict[str, MicroBatcher[tuple[Sample, Trajectory], tuple[RewardResult, float]]] = {}

    async def run(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        pending = iter(jobs)
        workers = [
            asyncio.ensure_future(self._work(pending)) for _ in range(min(self.concurrency, len(jobs)))
        ]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # an EndpointError (or a bug) stops the run here
            while self._scoring:
                await asyncio.gather(*list(self._scoring))
        finally:
            for task in [*workers, *self._scoring]:
                task.cancel()

    async def _work(self, pending: Iterator[Job]) -> None:
        for job in pending:
            previous, runner = job.previous, self.runners.get(job.env.key)
            if previous is not None and not rundir.generation_failed(previous):
                timing = {k: v for k, v in previous.timing.items() if k not in ("generate", "score")}
                generated = previous.timing.get("generate", 0.0)
                rollout = Rollout(previous.trajectory, dict(previous.tokens), generated, timing=timing)
            elif runner is None:
                assert previous is not None, "without a runner every job must have a record"
                self._emit(previous)
                continue
            else:
                started = time.perf_counter()
                try:
                    rollout = await runner.run(job.sample, rollout_seed(self.seed, job.key))
                except GenerationError as error:
                    self._emit(_generation_failure(job, str(error), time.perf_counter() - started))
                    continue
            if rollout.result is not None:  # scored by the runner (an episode, when it ended)
                self._emit(_record(job, rollout, rollout.result, {}))
                continue
            task = asyncio.ensure_future(self._score(job, rollout))
            self._scoring.add(task)
            task.add_done_callback(self._scoring.discard)

    async def _score(self, job: Job, rollout: Rollout) -> None:
        result, seconds = await self._batcher(job.env).submit((job.sample, rollout.trajectory))
        self._emit(_record(job, rollout, result, {"score": seconds}))

    def _batcher(self, env: EvalEnv) -> MicroBatcher[tuple[Sample, Trajectory], tuple[RewardResult, float]]:
        """An environment's rollouts are scored in batches as they arrive; each result comes with its share
        of its batch's seconds (the scoring cost of one rollout)."""
        if env.key not in self._scorers:

            async def score(items: list[tuple[Sample, Trajectory]]) -> list[tuple[RewardResult, float]]:
                started = time.perf_counter()
                results = await _score_items(env, items)
                share = (time.perf_counter() - started) / len(items)
                return [(result, share) for result in results]

            self._scorers[env.key] = MicroBatcher(score, max_batch=4 * env.scorer.concurrency, max_active=4)
        return self._scorers[env.key]

    def _emit(self, record: RolloutRecord) -> None:
        self.writer.write(record)
        if self.on_record is not None:
            self.on_record(record)


async def _score_items(env: EvalEnv, items: list[tuple[Sample, Trajectory]]) -> list[RewardResult]:
    """Through the environment's Scorer (a local one, or Ray actors): single-turn rollouts as a batch of
    final replies, episodes from the whole trajectory, without running anything again."""
    return await env.scorer.score_trajectories([s for s, _ in items], [t for _, t in items])


def _record(job: Job, rollout: Rollout, result: RewardResult, timing: Mapping[str, float]) -> RolloutRecord:
    seconds = {"generate": rollout.seconds, **rollout.timing, **timing}
    return RolloutRecord(
        job.env.key, job.sample, rollout.trajectory, result, job.rollout, rollout.tokens, seconds
    )


def _generation_failure(job: Job, error: str, seconds: float) -> RolloutRecord:
    result = RewardResult.failure(f"generation failed: {error}", stage="generation")
    trajectory = Trajectory([], stop_reason="env_error")
    return RolloutRecord(job.env.key, job.sample, trajectory, result, job.rollout, {}, {"generate": seconds})


def run_coroutine(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run `coroutine` to completion from sync code: here, or, when this thread already runs an event loop
    (a notebook, an async caller), on a fresh loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rewardkit-eval") as pool:
        pool.submit(asyncio.run, coroutine).result()
