"""Metrics of an evaluation run, from its rollout records.

Definitions (docs/eval.md states them for users):
- A rollout *passes* when its score is at least the environment's threshold (default: the top of its reward
  range). Pass metrics exist only for environments whose scores are all at the bottom or the top of their
  range, or whose threshold was set explicitly; other (continuous) rewards get mean and max@k instead.
- Errored rollouts (infrastructure failures, in generation or scoring) and rollouts whose reward did not apply
  (score None) are left out of every score metric and counted on their own.
- pass@k is the unbiased estimator of Chen et al. (2021), 1 - C(n-c, k) / C(n, k) for a prompt with n scored
  rollouts of which c pass, averaged over prompts; pass^k is C(c, k) / C(n, k) (all k draws pass).
  pass@1 is thus the mean over prompts of c / n (the mean over rollouts when every prompt has n rollouts).
- maj@k: a prompt's rollouts, in rollout order, are cut into blocks of k; in each block the most frequent
  parsed answer (`RewardResult.info["parsed_answer"]`) wins, and a tie for the most votes is no majority
  (a miss); the block scores 1 when the rollouts that gave the winning answer passed. Averaged over blocks,
  then prompts.
- max@k (continuous rewards): the expected best score among k of a prompt's n rollouts drawn without
  replacement, averaged over prompts.
- The std-error of the mean score treats prompts as the unit (rollouts of one prompt are correlated): the
  standard deviation of per-prompt mean scores over the square root of the number of prompts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.records import RolloutRecord

PARSED_ANSWER = "parsed_answer"
RANGE_SLACK = 1e-9


# -- estimators -------------------------------------------------------------------------------------------
def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k rollouts drawn without replacement from n (c passing) passes."""
    _check(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: probability that all k rollouts drawn without replacement from n (c passing) pass."""
    _check(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def max_at_k(scores: Sequence[float], k: int) -> float:
    """Expected maximum of k scores drawn without replacement from `scores`."""
    n = len(scores)
    _check(n, 0, k)
    ordered = sorted(scores)
    # The i-th smallest (1-based) is the maximum of C(i-1, k-1) of the C(n, k) subsets.
    total = sum(ordered[i - 1] * math.comb(i - 1, k - 1) for i in range(k, n + 1))
    return total / math.comb(n, k)


def majority(answers: Iterable[Any]) -> tuple[bool, Any]:
    """(True, answer) for the answer with strictly the most votes; (False, None) on a tie or no vote.
    None votes (no parsed answer) are not counted."""
    counts = Counter(_vote_key(a) for a in answers if a is not None).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return False, None
    return True, counts[0][0]


def _vote_key(answer: Any) -> Any:
    # Answers may be lists or dicts after a JSON round trip; vote on a hashable, canonical form.
    if isinstance(answer, str | int | float | bool):
        return answer
    return repr(answer)


def _check(n: int, c: int, k: int) -> None:
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")


def ks_up_to(n: int) -> list[int]:
    """The k of pass@k: powers of two up to n, and n itself."""
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if not n or ks[-1] == n else [*ks, n]


# -- per-rollout view of a record ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    sample_id: str
    rollout: int
    score: float | None
    error: bool
    reports_answer: bool  # the environment put a parsed answer (maybe None) in its info
    answer: Any
    stop_reason: str
    turns: int  # assistant messages (1 for a single-turn rollout)
    tool_calls: int
    prompt_tokens: int
    completion_tokens: int
    generate_seconds: float
    score_seconds: float

    @classmethod
    def of(cls, record: RolloutRecord) -> Outcome:
        reports, answer = parsed_answer(record.result.info)
        return cls(
            sample_id=record.sample.id,
            rollout=record.rollout,
            score=record.result.score,
            error=record.result.error is not None,
            reports_answer=reports,
            answer=answer,
            stop_reason=record.trajectory.stop_reason,
            turns=record.trajectory.turns,
            tool_calls=sum(len(m.get("tool_calls") or ()) for m in record.trajectory.messages),
            prompt_tokens=int(record.tokens.get("prompt", 0)),
            completion_tokens=int(record.tokens.get("completion", 0)),
            generate_seconds=float(record.timing.get("generate", 0.0)),
            score_seconds=float(record.timing.get("score", 0.0)),
        )

    @property
    def scored(self) -> bool:
        return self.score is not None and not self.error


def parsed_answer(info: Mapping[str, Any]) -> tuple[bool, Any]:
    """The parsed answer an environment reported: `info["parsed_answer"]`, or under a rubric the first
    rubric item's (a rubric keeps each item's info under the item's name)."""
    if PARSED_ANSWER in info:
        return True, info[PARSED_ANSWER]
    for value in info.values():
        if isinstance(value, Mapping) and PARSED_ANSWER in value:
            return True, value[PARSED_ANSWER]
    return False, None


# -- metrics of one environment ----------------------------------------------------------------------------
def is_binary(scores: Iterable[float], reward_range: tuple[float, float]) -> bool:
    low, high = reward_range
    return all(abs(s - low) <= RANGE_SLACK or abs(s - high) <= RANGE_SLACK for s in scores)


def env_metrics(
    outcomes: Sequence[Outcome],
    reward_range: tuple[float, float],
    threshold: float | None = None,
) -> dict[str, Any]:
    """Every metric of one environment's rollouts (the last record of each rollout)."""
    by_prompt: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in sorted(outcomes, key=lambda o: (o.sample_id, o.rollout)):
        by_prompt[outcome.sample_id].append(outcome)
    scored = [o for o in outcomes if o.scored]
    scores = [o.score for o in scored if o.score is not None]
    passing = threshold is not None or is_binary(scores, reward_range)
    cut = reward_range[1] if threshold is None else threshold
    out: dict[str, Any] = {
        "prompts": len(by_prompt),
        "rollouts": len(outcomes),
        "scored": len(scored),
        "reward_range": list(reward_range),
        **_score_summary(by_prompt),
        **_rates(outcomes),
        **_tokens(outcomes),
    }
    if passing:
        out["pass_threshold"] = cut
        out.update(_pass_metrics(by_prompt, cut))
    else:
        scored_groups = {sid: [o.score for o in g if o.scored] for sid, g in by_prompt.items()}
        out["max_at_k"] = _by_k(scored_groups, max_at_k)
    return out


def _score_summary(by_prompt: Mapping[str, list[Outcome]]) -> dict[str, Any]:
    means = []
    for group in by_prompt.values():
        values = [o.score for o in group if o.scored and o.score is not None]
        if values:
            means.append(sum(values) / len(values))
    if not means:
        return {"mean": None, "stderr": None}
    mean = sum(means) / len(means)
    if len(means) < 2:
        return {"mean": mean, "stderr": None}
    variance = sum((m - mean) ** 2 for m in means) / (len(means) - 1)
    return {"mean": mean, "stderr": math.sqrt(variance / len(means))}


def _rates(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    total = len(outcomes)
    reporting = [o for o in outcomes if o.scored and o.reports_answer]
    stops = Counter(o.stop_reason for o in outcomes)
    return {
        "error_rate": _share(sum(o.error for o in outcomes), total),
        "skipped_rate": _share(sum(o.score is None and not o.error for o in outcomes), total),
        "no_answer_rate": _share(sum(o.answer is None for o in reporting), len(reporting))
        if reporting
        else None,
        "truncation_rate": _share(stops.get("length", 0), total),
        "stop_reasons": dict(sorted(stops.items())),
        "turns_mean": sum(o.turns for o in outcomes) / total if total else None,
        "tool_calls_mean": sum(o.tool_calls for o in outcomes) / total if total else None,
    }


def _tokens(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    count = len(outcomes)
    completion = sum(o.completion_tokens for o in outcomes)
    return {
        "tokens": {
            "prompt": sum(o.prompt_tokens for o in outcomes),
            "completion": completion,
            "completion_mean": completion / count if count else None,
        },
        # Per rollout: seconds waiting for the model, and its share of its scoring batch's seconds.
        "seconds": {
            "generate_mean": sum(o.generate_seconds for o in outcomes) / count if count else None,
            "score_mean": sum(o.score_seconds for o in outcomes) / count if count else None,
        },
    }


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def _pass_metrics(by_prompt: Mapping[str, list[Outcome]], cut: float) -> dict[str, Any]:
    def passes(group: Sequence[Outcome]) -> tuple[int, int]:
        return len(group), sum(o.score is not None and o.score >= cut - RANGE_SLACK for o in group)

    scored_groups = {sid: [o for o in g if o.scored] for sid, g in by_prompt.items()}
    out: dict[str, Any] = {
        "pass_at_k": _by_k(scored_groups, lambda group, k: pass_at_k(*passes(group), k)),
        "pass_hat_k": _by_k(scored_groups, lambda group, k: pass_hat_k(*passes(group), k)),
    }
    out["pass@1"] = out["pass_at_k"].get("1")
    out["prompts_at_k"] = {k: sum(len(g) >= int(k) for g in scored_groups.values()) for k in out["pass_at_k"]}
    if any(o.reports_answer for g in scored_groups.values() for o in g):
        out["maj_at_k"] = _by_k(scored_groups, lambda group, k: _maj_at_k(group, k, cut))
    return out


def _maj_at_k(group: Sequence[Outcome], k: int, cut: float) -> float:
    blocks = [group[i : i + k] for i in range(0, len(group) - k + 1, k)]
    wins = 0
    for block in blocks:
        found, answer = majority(o.answer for o in block)
        voters = [o for o in block if o.answer is not None and _vote_key(o.answer) == answer]
        wins += found and all(o.score is not None and o.score >= cut - RANGE_SLACK for o in voters)
    return wins / len(blocks)


def _by_k(by_prompt: Mapping[str, Sequence[Any]], estimate: Any) -> dict[str, float]:
    """`estimate(group, k)` averaged over the prompts that have at least k scored rollouts, for each k."""
    most = max((len(g) for g in by_prompt.values()), default=0)
    out = {}
    for k in ks_up_to(most):
        values = [estimate(group, k) for group in by_prompt.values() if len(group) >= k]
        out[str(k)] = sum(values) / len(values)
    return out


# -- the whole run ------------------------------------------------------------------------------------------
def run_metrics(
    records: Iterable[RolloutRecord],
    reward_ranges: Mapping[str, tuple[float, float]],
    thresholds: Mapping[str, float | None] | None = None,
) -> dict[str, Any]:
    """`{"environments": {key: metrics}, "overall": metrics}`; overall pass metrics average over every
    prompt of the environments that have them."""
    thresholds = thresholds or {}
    by_env: dict[str, list[Outcome]] = defaultdict(list)
    for record in records:
        by_env[record.env].append(Outcome.of(record))
    per_env = {
        env: env_metrics(by_env.get(env, []), reward_ranges[env], thresholds.get(env))
        for env in reward_ranges
    }
    return {"environments": per_env, "overall": _overall(per_env, by_env)}


def _overall(per_env: Mapping[str, Mapping[str, Any]], by_env: Mapping[str, list[Outcome]]) -> dict[str, Any]:
    everything = [o for outcomes in by_env.values() for o in outcomes]
    out: dict[str, Any] = {
        "prompts": sum(m["prompts"] for m in per_env.values()),
        "rollouts": len(everything),
        "scored": sum(m["scored"] for m in per_env.values()),
        **_rates(everything),
        **_tokens(everything),
    }
    for key in ("pass_at_k", "pass_hat_k", "maj_at_k"):
        pooled = _pooled(per_env, key)
        if pooled:
            out[key] = pooled
    if "pass_at_k" in out:
        out["pass@1"] = out["pass_at_k"].get("1")
    return out


def _pooled(per_env: Mapping[str, Mapping[str, Any]], key: str) -> dict[str, float]:
    """Prompt-weighted mean over the environments that report `key`, for each k any of them has."""
    sums: dict[str, float] = defaultdict(float)
    weights: dict[str, int] = defaultdict(int)
    for metrics in per_env.values():
        for k, value in (metrics.get(key) or {}).items():
            sums[k] += value * metrics["prompts_at_k"][k]
            weights[k] += metrics["prompts_at_k"][k]
    return {k: sums[k] / weights[k] for k in sorted(sums, key=int) if weights[k]}
