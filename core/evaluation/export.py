"""`rewardkit export DIR --output OUT`: a run's verified rollouts as SFT data (rejection sampling), or its
prompts in a pass-rate band as RL data.

Rows are chat `messages` (the environment's prompt, then the trajectory), with the run's provenance in
columns of their own (`env`, `sample_id`, `rollout`, `score`, `pass_rate`). Errored, unscored and (by
default) truncated rollouts are never exported.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rewardkit.errors import ConfigError
from rewardkit.evaluation import rundir
from rewardkit.evaluation.metrics import RANGE_SLACK
from rewardkit.records import RolloutRecord
from rewardkit.types import json_safe

Selection = Literal["correct", "best", "shortest", "all"]
Format = Literal["jsonl", "parquet", "hf"]
SELECTIONS: tuple[Selection, ...] = ("correct", "best", "shortest", "all")


@dataclass(frozen=True)
class ExportOptions:
    select: Selection = "correct"
    pass_band: tuple[float, float] | None = None  # keep prompts whose pass rate is in [low, high]
    dedup: bool = True  # drop a prompt's repeated completions (same text up to whitespace)
    max_per_prompt: int | None = None
    threshold: float | None = None  # default: the run's pass threshold of each environment
    min_score: float | None = None
    keep_truncated: bool = False
    environments: tuple[str, ...] = ()  # default: all
    prompts_only: bool = False  # one row per kept prompt (RL data), no completions


@dataclass
class ExportStats:
    prompts: int = 0
    prompts_in_band: int = 0
    rollouts: int = 0
    unusable: int = 0  # errored, unscored, or truncated
    duplicates: int = 0
    rows: int = 0
    per_env: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k != "per_env"}, "per_env": dict(self.per_env)}


def thresholds(metadata: Mapping[str, Any], options: ExportOptions) -> dict[str, float | None]:
    """Each environment's pass threshold: --threshold, else the run's (None: a continuous reward)."""
    envs = metadata["metrics"]["environments"]
    return {
        key: options.threshold if options.threshold is not None else m.get("pass_threshold")
        for key, m in envs.items()
    }


def select_rows(
    records: Iterable[RolloutRecord], metadata: Mapping[str, Any], options: ExportOptions
) -> tuple[list[dict[str, Any]], ExportStats]:
    cuts = thresholds(metadata, options)
    unknown = [env for env in options.environments if env not in cuts]
    if unknown:
        raise ConfigError(f"--env {', '.join(unknown)}: not in this run (it has {', '.join(cuts)})")
    needs_pass = options.select in ("correct", "shortest") or options.pass_band is not None
    by_prompt: dict[tuple[str, str], list[RolloutRecord]] = defaultdict(list)
    for record in records:
        if not options.environments or record.env in options.environments:
            by_prompt[(record.env, record.sample.id)].append(record)
    for env in {env for env, _ in by_prompt}:
        if needs_pass and cuts[env] is None:
            raise ConfigError(
                f"{env} has a continuous reward (no pass threshold); give --threshold for --select "
                f"{options.select} or --pass-band"
            )
    stats, rows = ExportStats(), []
    # Prompts in a fixed order (environment, then sample id with its numbers compared as numbers), never in
    # the order rollouts happened to finish: the same run exports the same file.
    for (env, _), group in sorted(by_prompt.items(), key=lambda item: (item[0][0], _natural(item[0][1]))):
        stats.prompts += 1
        stats.rollouts += len(group)
        kept = _prompt_rows(sorted(group, key=lambda r: r.rollout), cuts[env], options, stats)
        stats.per_env[env] += len(kept)
        rows += kept
    stats.rows = len(rows)
    return rows, stats


def _prompt_rows(
    group: list[RolloutRecord], cut: float | None, options: ExportOptions, stats: ExportStats
) -> list[dict[str, Any]]:
    scored = [r for r in group if r.result.error is None and r.result.score is not None]

    def passes(record: RolloutRecord) -> bool:
        return (
            cut is not None and record.result.score is not None and record.result.score >= cut - RANGE_SLACK
        )

    rate = sum(map(passes, scored)) / len(scored) if scored and cut is not None else None
    band = options.pass_band
    if band is not None and (rate is None or not band[0] - RANGE_SLACK <= rate <= band[1] + RANGE_SLACK):
        return []
    stats.prompts_in_band += 1
    if options.prompts_only:
        return [_prompt_row(group[0], rate)]
    usable = [r for r in scored if options.keep_truncated or r.trajectory.stop_reason != "length"]
    stats.unusable += len(group) - len(usable)
    if options.min_score is not None:
        usable = [r for r in usable if (r.result.score or 0.0) >= options.min_score]
    chosen = _choose(usable, options.select, passes)
    if options.dedup:
        chosen, dropped = _dedup(chosen)
        stats.duplicates += dropped
    if options.max_per_prompt is not None:
        chosen = chosen[: options.max_per_prompt]
    return [_sft_row(record, rate) for record in chosen]


def _choose(usable: list[RolloutRecord], select: Selection, passes: Any) -> list[RolloutRecord]:
    if select == "all":
        return usable
    if select == "correct":
        return [r for r in usable if passes(r)]
    if select == "shortest":
        correct = [r for r in usable if passes(r)]
        return sorted(correct, key=_length)[:1]
    if not usable:
        return []
    best = max(r.result.score or 0.0 for r in usable)
    return sorted((r for r in usable if (r.result.score or 0.0) >= best - RANGE_SLACK), key=_length)[:1]


def _natural(text: str) -> tuple[str | int, ...]:
    """`test-2` before `test-10`: digit runs compare as numbers (re.split alternates text and digits)."""
    return tuple(int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", text)))


def _length(record: RolloutRecord) -> tuple[int, int]:
    return (int(record.tokens.get("completion", 0)), len(record.completion))


def _dedup(records: Sequence[RolloutRecord]) -> tuple[list[RolloutRecord], int]:
    seen: set[str] = set()
    out = []
    for record in records:
        text = " ".join(
            re.sub(r"\s+", " ", str(m.get("content") or "")).strip()
            + json.dumps(m.get("tool_calls"), sort_keys=True)  # episodes differing only in a call differ
            for m in record.trajectory.messages
        )
        if text not in seen:
            seen.add(text)
            out.append(record)
    return out, len(records) - len(out)


def _sft_row(record: RolloutRecord, rate: float | None) -> dict[str, Any]:
    messages = [dict(m) for m in record.sample.prompt] + [dict(m) for m in record.trajectory.messages]
    tools = {"tools": json_safe(list(record.trajectory.tools))} if record.trajectory.tools else {}
    return {
        "messages": json_safe(messages),
        **tools,
        "env": record.env,
        "sample_id": record.sample.id,
        "rollout": record.rollout,
        "score": record.result.score,
        "pass_rate": rate,
    }


def _prompt_row(record: RolloutRecord, rate: float | None) -> dict[str, Any]:
    return {"env": record.env, **json_safe(record.sample.to_dict()), "pass_rate": rate}


# -- writing ----------------------------------------------------------------------------------------------
def output_format(output: Path, requested: Format | None) -> Format:
    if requested is not None:
        return requested
    if output.suffix == ".jsonl":
        return "jsonl"
    if output.suffix == ".parquet":
        return "parquet"
    if output.suffix == "":
        return "hf"
    raise ConfigError(f"--output {output}: name a .jsonl or .parquet file, or a folder (a datasets folder)")


def write_rows(rows: list[dict[str, Any]], output: Path, fmt: Format) -> None:
    """JSONL is written with no extra dependency; Parquet and `datasets` folders need the `data` extra."""
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        partial = output.with_name(output.name + ".partial")
        with partial.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        partial.replace(output)
        return
    try:
        import datasets
    except ImportError:
        raise ConfigError(f"--format {fmt} needs `datasets`: pip install 'rewardkit[data]'") from None
    dataset = datasets.Dataset.from_list(rows)
    if fmt == "parquet":
        dataset.to_parquet(str(output))
    else:
        dataset.save_to_disk(str(output))


def export(
    run: str | Path, output: str | Path, options: ExportOptions, fmt: Format | None = None
) -> ExportStats:
    output = Path(output)
    chosen = output_format(output, fmt)
    rows, stats = select_rows(rundir.latest_records(run).values(), rundir.read_metadata(run), options)
    write_rows(rows, output, chosen)
    return stats
