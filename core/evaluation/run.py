"""`rewardkit eval`: generate rollouts of every prompt, score each as it arrives, keep everything on disk.

Generation runs `concurrency` rollouts at a time; each finished rollout is handed to its environment's
Scorer at once (scoring overlaps the generation of the others) and appended to rollouts.jsonl as soon as it
is scored, one flushed line each: a killed run loses at most the rollouts in flight. `--resume` reads what
is there, keeps every rollout that finished cleanly, re-scores rollouts whose scoring failed, and generates
the rest (including those whose generation failed).
"""

from __future__ import annotations

import asyncio
import hashlib
import platform
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.evaluation import rundir
from rewardkit.evaluation.config import EvalConfig, parse_eval_config
from rewardkit.evaluation.envs import EvalEnv, build_envs, choose_split, close_envs, read_samples
from rewardkit.evaluation.metrics import run_metrics
from rewardkit.evaluation.policy import ChatModel, GenerationError, Rollout, RolloutRunner, SingleTurn
from rewardkit.host import PluginHost
from rewardkit.records import RECORD_VERSION, RecordWriter, RolloutRecord
from rewardkit.types import RewardResult, Sample, Trajectory

Progress = Callable[[RolloutRecord], None]


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
    """Runs jobs: generation `concurrency` at a time, scoring per environment as rollouts arrive."""

    def __init__(
        self,
        runner: RolloutRunner,
        writer: RecordWriter,
        seed: int,
        concurrency: int,
        on_record: Progress | None = None,
    ) -> None:
        self.runner = runner
        self.writer = writer
        self.seed = seed
        self.concurrency = max(1, concurrency)
        self.on_record = on_record
        self._scoring: set[asyncio.Task[None]] = set()
        self._score_limits: dict[str, asyncio.Semaphore] = {}

    async def run(self, jobs: Sequence[Job]) -> None:
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
            if job.previous is not None and not rundir.generation_failed(job.previous):
                rollout = Rollout(job.previous.trajectory, dict(job.previous.tokens))
            else:
                started = time.perf_counter()
                try:
                    rollout = await self.runner.run(job.sample, rollout_seed(self.seed, job.key))
                except GenerationError as error:
                    self._emit(_generation_failure(job, str(error), time.perf_counter() - started))
                    continue
            task = asyncio.ensure_future(self._score(job, rollout))
            self._scoring.add(task)
            task.add_done_callback(self._scoring.discard)

    async def _score(self, job: Job, rollout: Rollout) -> None:
        limit = self._score_limits.setdefault(job.env.key, asyncio.Semaphore(job.env.scorer.concurrency))
        async with limit:
            started = time.perf_counter()
            result = await job.env.scorer.score(job.sample, rollout.trajectory.completion)
            seconds = time.perf_counter() - started
        timing = {"generate": rollout.seconds, "score": seconds}
        self._emit(
            RolloutRecord(
                job.env.key, job.sample, rollout.trajectory, result, job.rollout, rollout.tokens, timing
            )
        )

    def _emit(self, record: RolloutRecord) -> None:
        self.writer.write(record)
        if self.on_record is not None:
            self.on_record(record)


def _generation_failure(job: Job, error: str, seconds: float) -> RolloutRecord:
    result = RewardResult.failure(f"generation failed: {error}", stage="generation")
    trajectory = Trajectory([], stop_reason="env_error")
    return RolloutRecord(job.env.key, job.sample, trajectory, result, job.rollout, {}, {"generate": seconds})


# -- the run -------------------------------------------------------------------------------------------------
@dataclass
class RunState:
    config: EvalConfig
    output: Path
    envs: list[EvalEnv]
    splits: dict[str, str]
    samples: dict[str, list[Sample]]
    segments: list[dict[str, Any]]
    created: str


def evaluate(
    config: EvalConfig,
    output: str | Path,
    *,
    resume: bool = False,
    host: PluginHost | None = None,
    chat: ChatModel | None = None,
    on_record: Callable[[RolloutRecord], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run (or with `resume`, complete) the evaluation in `output`; returns its metadata (with metrics).

    `chat` replaces the model the config names (the trainer passes its own backend). `on_start(total,
    remaining)` and `on_record(record)` drive a progress display. Ctrl-C stops the run cleanly: every
    finished rollout is kept and metadata.json says "interrupted"; `--resume` completes it.
    """
    output = Path(output)
    previous = _check_output(output, resume)
    envs = build_envs(config, host=host)
    try:
        state = _prepare(config, output, envs, previous)
        done = rundir.latest_records(output)
        jobs = plan_jobs(envs, state.samples, done)
        if on_start is not None:
            on_start(sum(len(state.samples[e.key]) * e.rollouts for e in envs), len(jobs))
        for env in envs:
            env.scorer.start()  # environment setup fails here, before any generation
        return _execute(state, jobs, chat, on_record)
    finally:
        close_envs(envs)


def _check_output(output: Path, resume: bool) -> dict[str, Any] | None:
    if resume:
        return rundir.read_metadata(output)
    if rundir.metadata_path(output).exists() or rundir.rollouts_path(output).exists():
        raise ConfigError(
            f"--output {output}: already holds a run; complete it with --resume {output}, "
            "or choose another folder"
        )
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output}: exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)
    return None


def _prepare(
    config: EvalConfig, output: Path, envs: list[EvalEnv], previous: dict[str, Any] | None
) -> RunState:
    splits, samples = {}, {}
    for index, env in enumerate(envs):
        split = choose_split(env.env, config.env_split(env.spec))
        splits[env.key] = split
        samples[env.key] = read_samples(env.env, split, config.env_prompts(env.spec), f"environments.{index}")
    segments = list((previous or {}).get("timing", {}).get("segments", []))
    created = (previous or {}).get("created") or _now()
    return RunState(config, output, envs, splits, samples, segments, created)


def _execute(
    state: RunState, jobs: list[Job], chat: ChatModel | None, on_record: Progress | None
) -> dict[str, Any]:
    config = state.config
    owned = chat is None
    model = chat or make_chat(config)
    started, status = time.perf_counter(), "interrupted"
    write_run_metadata(state, "running")
    writer = RecordWriter(rundir.rollouts_path(state.output))
    try:
        runner = SingleTurn(model, config.system_prompt)
        executor = Executor(runner, writer, config.sampling.seed, _concurrency(config), on_record)
        asyncio.run(_drive(executor, jobs, model if owned else None))
        status = "complete"
    except KeyboardInterrupt:
        pass
    finally:
        writer.close()
        state.segments.append(
            {"started": _now(), "seconds": time.perf_counter() - started, "rollouts": len(jobs)}
        )
        metadata = write_run_metadata(state, status)
    return metadata


async def _drive(executor: Executor, jobs: list[Job], owned: ChatModel | None) -> None:
    try:
        await executor.run(jobs)
    finally:
        if owned is not None:
            await owned.aclose()


def _concurrency(config: EvalConfig) -> int:
    if config.resolved_backend == "openai":
        return config.endpoint.max_concurrency
    return config.local.batch_size * 2  # one batch generating, the next one filling


def make_chat(config: EvalConfig) -> ChatModel:
    if config.resolved_backend == "openai":
        from rewardkit.evaluation.endpoint import EndpointChat

        return EndpointChat(config.model, config.endpoint, config.sampling, config.chat_template_kwargs)
    from rewardkit.evaluation.local import load_local_chat

    return load_local_chat(config)


def write_run_metadata(state: RunState, status: str) -> dict[str, Any]:
    from rewardkit import __version__

    records = rundir.latest_records(state.output).values()
    metrics = run_metrics(
        records, {e.key: e.reward_range for e in state.envs}, {e.key: e.threshold for e in state.envs}
    )
    wall = sum(segment["seconds"] for segment in state.segments)
    data = {
        "kind": "eval",
        "status": status,
        "created": state.created,
        "updated": _now(),
        "rewardkit_version": __version__,
        "record_version": RECORD_VERSION,
        "python": platform.python_version(),
        "config": state.config.model_dump(mode="json"),
        "environments": {e.key: e.describe(state.splits.get(e.key)) for e in state.envs},
        "metrics": metrics,
        "timing": {
            "wall_seconds": wall,
            "rollouts_per_second": metrics["overall"]["rollouts"] / wall if wall > 0 else None,
            "segments": state.segments,
        },
    }
    rundir.write_metadata(state.output, data)
    return {"format": rundir.FORMAT, **data}


def resume_config(output: str | Path) -> EvalConfig:
    """The config a run was started with, from its metadata.json."""
    metadata = rundir.read_metadata(output)
    return parse_eval_config(metadata["config"])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
