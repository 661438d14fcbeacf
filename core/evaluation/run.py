"""`rewardkit eval`: generate rollouts of every prompt, score each as it arrives, keep everything on disk.

Generation runs `concurrency` rollouts at a time; each finished rollout is handed to its environment's
Scorer at once (scoring overlaps the generation of the others) and appended to rollouts.jsonl as soon as it
is scored, one flushed line each: a killed run loses at most the rollouts in flight. `--resume` reads what
is there, keeps every rollout that finished cleanly, re-scores rollouts whose scoring failed, and generates
the rest (including those whose generation failed).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.evaluation import rundir
from rewardkit.evaluation.config import EvalConfig, parse_eval_config
from rewardkit.evaluation.envs import EvalEnv, build_envs, choose_split, close_envs, read_samples
from rewardkit.evaluation.episodes import make_runner
from rewardkit.evaluation.executor import Executor, Job, OnRecord, plan_jobs, run_coroutine
from rewardkit.evaluation.metrics import run_metrics
from rewardkit.evaluation.policy import ChatModel
from rewardkit.host import PluginHost
from rewardkit.records import RECORD_VERSION, RecordWriter
from rewardkit.types import Sample


@dataclass
class RunState:
    config: EvalConfig
    output: Path
    envs: list[EvalEnv]
    splits: dict[str, str]
    samples: dict[str, list[Sample]]
    segments: list[dict[str, Any]]
    created: str
    extra: dict[str, Any] = field(default_factory=dict)  # more metadata (`rescore` names its source)


def evaluate(
    config: EvalConfig,
    output: str | Path,
    *,
    resume: bool = False,
    host: PluginHost | None = None,
    chat: ChatModel | None = None,
    on_record: OnRecord | None = None,
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
        return _execute(state, jobs, chat, on_record, host)
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
    segments = _closed_segments((previous or {}).get("timing", {}).get("segments", []), output)
    created = (previous or {}).get("created") or now()
    return RunState(config, output, envs, splits, samples, segments, created)


def _closed_segments(segments: list[dict[str, Any]], output: Path) -> list[dict[str, Any]]:
    """A segment of a killed run has no length; it lasted until its last rollout was written."""
    path = rundir.rollouts_path(output)
    last = path.stat().st_mtime if path.exists() else 0.0
    out = []
    for segment in segments:
        if segment.get("seconds") is not None:
            out.append(segment)
            continue
        started = datetime.fromisoformat(segment["started"]).timestamp()
        out.append({**segment, "seconds": max(0.0, last - started), "killed": True})
    return out


def _execute(
    state: RunState,
    jobs: list[Job],
    chat: ChatModel | None,
    on_record: OnRecord | None,
    host: PluginHost | None,
) -> dict[str, Any]:
    config = state.config
    if not jobs:  # a resumed run that was already complete: nothing to load or ask
        return write_run_metadata(state, "complete")
    owned = chat is None
    model = chat or make_chat(config)
    started, status = time.perf_counter(), "failed"
    segment: dict[str, Any] = {"started": now(), "seconds": None, "rollouts": len(jobs)}
    state.segments.append(segment)
    write_run_metadata(state, "running")
    writer = RecordWriter(rundir.rollouts_path(state.output))
    try:
        runners = {env.key: make_runner(env, model, config, host) for env in state.envs}
        executor = Executor(runners, writer, config.sampling.seed, _concurrency(config), on_record)
        run_coroutine(_drive(executor, jobs, model if owned else None))
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        writer.close()
        segment["seconds"] = time.perf_counter() - started
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
    wall = sum(segment["seconds"] or 0.0 for segment in state.segments)
    data = {
        "kind": "eval",
        **state.extra,
        "status": status,
        "created": state.created,
        "updated": now(),
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


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
