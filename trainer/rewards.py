"""Reward routing: each completion goes to its own environment's Scorer, scored in the background.

`submit` hands the completions to the host's scoring loop and returns at once; generation (of the next
chunk) or reference log-probs run while environments score. Scorers never raise for plugin failures: a
failure is an outcome with `error`, counted by `check_errors`.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rewardkit.errors import RewardkitError
from rewardkit.scoring import Scorer, Scoring
from rewardkit.trainer.data import Prompt
from rewardkit.types import RewardResult


class RewardErrorRateExceeded(RewardkitError):
    """Too many reward infrastructure failures in one step: the run stops rather than train on noise."""


@dataclass
class ScoringTimes:
    busy: float = 0.0  # seconds environments spent scoring (wall, summed over submissions)
    waited: float = 0.0  # seconds the training loop blocked waiting for rewards

    @property
    def overlap(self) -> float:
        """Share of scoring time hidden behind other work (1.0 = fully overlapped)."""
        return 0.0 if self.busy <= 0 else max(0.0, 1.0 - self.waited / self.busy)


@dataclass
class PendingRewards:
    parts: list[tuple[list[int], Scoring]] = field(default_factory=list)
    size: int = 0


class RewardRouter:
    def __init__(self, scorers: dict[str, Scorer]) -> None:
        self.scorers = scorers
        self.times = ScoringTimes()

    def start(self) -> None:
        for scorer in self.scorers.values():
            scorer.start()  # environment setup fails here, before step 0

    def submit(self, prompts: Sequence[Prompt], completions: Sequence[str], pending: PendingRewards) -> None:
        """Queue scoring of `completions` (one per prompt, aligned) onto `pending`."""
        by_env: dict[str, list[int]] = defaultdict(list)
        for i, prompt in enumerate(prompts):
            by_env[prompt.env].append(i)
        for env, indices in by_env.items():
            samples = [prompts[i].sample for i in indices]
            texts = [completions[i] for i in indices]
            pending.parts.append(
                ([pending.size + i for i in indices], self.scorers[env].submit(samples, texts))
            )
        pending.size += len(prompts)

    def collect(self, pending: PendingRewards) -> list[RewardResult]:
        start = time.perf_counter()
        results: list[RewardResult | None] = [None] * pending.size
        for indices, scoring in pending.parts:
            for index, result in zip(indices, scoring.result(), strict=True):
                results[index] = result
            self.times.busy += scoring.seconds
        self.times.waited += time.perf_counter() - start
        complete = [r for r in results if r is not None]
        assert len(complete) == len(results), "a scorer returned fewer results than samples"
        return complete

    def close(self) -> None:
        for scorer in self.scorers.values():
            scorer.close()


def check_errors(results: Sequence[RewardResult], envs: Sequence[str], limit: float, step: int) -> int:
    """Count infrastructure errors; raise with a clear message when their share passes `limit`."""
    failed = [(env, r.error) for env, r in zip(envs, results, strict=True) if r.error is not None]
    if results and len(failed) / len(results) > limit:
        per_env: dict[str, int] = defaultdict(int)
        for env, _ in failed:
            per_env[env] += 1
        counts = ", ".join(f"{env}: {n}" for env, n in sorted(per_env.items()))
        raise RewardErrorRateExceeded(
            f"step {step}: {len(failed)} of {len(results)} rewards failed ({counts}), above "
            f"grpo.max_reward_error_rate={limit:g}. First error: {failed[0][1]}. Fix the environment "
            "(sandbox, judge, network) or raise grpo.max_reward_error_rate."
        )
    return len(failed)


def reward_metrics(results: Sequence[RewardResult], envs: Sequence[str]) -> dict[str, float]:
    """Per-environment and per-component means and stds, plus counts of skipped and failed outcomes."""
    groups: dict[str, list[float]] = defaultdict(list)
    for env, result in zip(envs, results, strict=True):
        if result.score is not None:
            groups[f"reward/{env}"].append(result.score)
            groups["reward"].append(result.score)
        for name, value in result.components.items():
            if isinstance(value, int | float) and np.isfinite(value):
                groups[f"reward/{env}/{name}"].append(float(value))
    out: dict[str, float] = {}
    for key, values in groups.items():
        out[f"{key}/mean"] = float(np.mean(values))
        out[f"{key}/std"] = float(np.std(values))
    out["reward/skipped"] = float(sum(r.skipped for r in results))
    out["reward/errors"] = float(sum(r.error is not None for r in results))
    return out


def accuracy_metrics(
    results: Sequence[RewardResult], envs: Sequence[str], scorers: Mapping[str, Scorer]
) -> dict[str, float]:
    """`reward/<env>/accuracy` and `reward/accuracy`: the share of scored completions that the environment's
    verdict passes. The verdict is the rubric's reward named after the environment or named `*.accuracy`
    (format and shaping terms do not count), or without a rubric the score; it passes at the top of its
    range. An environment whose rubric has no such reward reports no accuracy."""
    verdicts = {key: _verdict(scorer) for key, scorer in scorers.items()}
    passed: dict[str, list[bool]] = defaultdict(list)
    for env, result in zip(envs, results, strict=True):
        verdict = verdicts.get(env)
        if verdict is None or result.score is None:
            continue
        name, top = verdict
        value = result.score if name is None else result.components.get(name)
        if isinstance(value, int | float):
            passed[env].append(value >= top - 1e-9)
            passed[""].append(value >= top - 1e-9)
    return {
        ("reward/accuracy" if env == "" else f"reward/{env}/accuracy"): sum(flags) / len(flags)
        for env, flags in passed.items()
    }


def _verdict(scorer: Scorer) -> tuple[str | None, float] | None:
    """(the component holding the verdict, None for the score itself; the top of its range)."""
    if scorer.rubric is None:
        return None, scorer.reward_range[1]
    for item in scorer.rubric:
        if item.name == scorer.env.name or item.name.endswith(".accuracy"):
            return item.name, max(item.reward_range)
    return None
