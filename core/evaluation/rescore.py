"""`rewardkit rescore DIR`: score a run's stored rollouts again with the installed verifier, into a new run.

Nothing is generated: each rollout's stored trajectory is scored by the environment as installed now (with
config changes from `--set`), and the new run says how many verdicts changed. Environments that declare
`stateful_scoring` (their verdict depends on episode state a trajectory does not hold) are refused unless
forced.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.evaluation import rundir
from rewardkit.evaluation.config import EvalConfig, parse_eval_config, run_keys
from rewardkit.evaluation.envs import EvalEnv, build_envs, close_envs
from rewardkit.evaluation.executor import Executor, Job, OnRecord, run_coroutine
from rewardkit.evaluation.metrics import RANGE_SLACK, is_binary
from rewardkit.evaluation.run import RunState, now, write_run_metadata
from rewardkit.host import PluginHost
from rewardkit.overrides import apply_overrides
from rewardkit.records import RecordWriter, RolloutRecord


def env_overrides(overrides: Sequence[str], keys: Sequence[str]) -> dict[str, list[str]]:
    """`--set KEY=VALUE` for a run of one environment, `--set ENV:KEY=VALUE` for any of several."""
    out: dict[str, list[str]] = defaultdict(list)
    for text in overrides:
        env, sep, rest = text.partition(":")
        if sep and "=" not in env:
            if env not in keys:
                raise ConfigError(
                    f"--set {text}: the run has no environment {env!r} (it has {', '.join(keys)})"
                )
            out[env].append(rest)
        elif len(keys) == 1:
            out[keys[0]].append(text)
        else:
            raise ConfigError(f"--set {text}: the run has several environments; write --set ENV:{text}")
    return out


def rescored_config(config: EvalConfig, overrides: Mapping[str, Sequence[str]]) -> EvalConfig:
    keys = run_keys(config.environments)
    data = config.model_dump(mode="json")
    for index, key in enumerate(keys):
        env = data["environments"][index]
        env["config"] = apply_overrides(env.get("config") or {}, overrides.get(key, ()))
    return parse_eval_config(data)


def rescore(
    source: str | Path,
    output: str | Path,
    overrides: Sequence[str] = (),
    force: bool = False,
    host: PluginHost | None = None,
    on_start: Any = None,
    on_record: OnRecord | None = None,
) -> dict[str, Any]:
    """Re-score `source` into `output`; returns the new run's metadata, with `changes` per environment."""
    source, output = Path(source), Path(output)
    previous = rundir.read_metadata(source)
    old_config = parse_eval_config(previous["config"])
    config = rescored_config(old_config, env_overrides(overrides, run_keys(old_config.environments)))
    _check_output(source, output)
    records = rundir.latest_records(source)
    envs = build_envs(config, host=host)
    try:
        _refuse_stateful(envs, force)
        if on_start is not None:
            on_start(len(records), len(records))
        for env in envs:
            env.scorer.start()
        state = RunState(
            config,
            output,
            envs,
            {key: env.get("split") for key, env in previous.get("environments", {}).items()},
            {},
            [],
            now(),
            {"kind": "rescore", "source": str(source), "overrides": list(overrides)},
        )
        return _run(state, records, on_record)
    finally:
        close_envs(envs)


def _check_output(source: Path, output: Path) -> None:
    if output.resolve() == source.resolve():
        raise ConfigError(
            f"--output {output}: rescore writes a new run; choose a folder other than its source"
        )
    if rundir.metadata_path(output).exists() or rundir.rollouts_path(output).exists():
        raise ConfigError(f"--output {output}: already holds a run; choose another folder")
    output.mkdir(parents=True, exist_ok=True)


def _refuse_stateful(envs: Sequence[EvalEnv], force: bool) -> None:
    stateful = [env.key for env in envs if env.env.metadata().stateful_scoring]
    if stateful and not force:
        raise ConfigError(
            f"{', '.join(stateful)}: declares stateful_scoring (its verdicts depend on episode state that a "
            "stored trajectory does not hold); evaluate again with `rewardkit eval`, or pass --force to "
            "re-score from the trajectories anyway"
        )


def _run(
    state: RunState, records: Mapping[tuple[str, str, int], RolloutRecord], on_record: OnRecord | None
) -> dict[str, Any]:
    by_key = {env.key: env for env in state.envs}
    unknown = sorted({record.env for record in records.values()} - set(by_key))
    if unknown:
        raise ConfigError(f"rollouts of {', '.join(unknown)} have no environment in the run's config")
    jobs = [Job(by_key[r.env], r.sample, r.rollout, r) for r in records.values()]
    started = time.perf_counter()
    with RecordWriter(rundir.rollouts_path(state.output)) as writer:
        executor = Executor({}, writer, state.config.sampling.seed, 64, on_record)
        run_coroutine(executor.run(jobs))
    state.segments.append(
        {"started": state.created, "seconds": time.perf_counter() - started, "rollouts": len(jobs)}
    )
    new = rundir.latest_records(state.output)
    state.extra["changes"] = changes(records, new, state)
    return write_run_metadata(state, "complete")


def changes(
    old: Mapping[tuple[str, str, int], RolloutRecord],
    new: Mapping[tuple[str, str, int], RolloutRecord],
    state: RunState,
) -> dict[str, dict[str, int]]:
    """Per environment: how many verdicts changed, and how (`fail -> pass`: 3). A verdict is pass or fail
    where the environment has pass metrics, else the score; an error or a skip is a verdict too."""
    out = {}
    for env in state.envs:
        keys = [key for key in old if key[0] == env.key]
        scores = [r.result.score for key in keys for r in (old[key], new[key]) if r.result.score is not None]
        binary = env.threshold is not None or is_binary(scores, env.reward_range)
        cut = env.threshold if env.threshold is not None else env.reward_range[1]
        tally: dict[str, int] = defaultdict(int)
        tally["rollouts"], tally["changed"] = len(keys), 0
        for key in keys:
            was, now = _verdict(old[key], cut, binary), _verdict(new[key], cut, binary)
            if was != now:
                tally["changed"] += 1
                if binary or "error" in (was, now):
                    tally[f"{was} -> {now}"] += 1
        out[env.key] = dict(tally)
    return out


def _verdict(record: RolloutRecord, cut: float, binary: bool) -> str:
    score = record.result.score
    if record.result.error is not None:
        return "error"
    if score is None:
        return "skipped"
    if binary:
        return "pass" if score >= cut - RANGE_SLACK else "fail"
    return f"{score:.9g}"
