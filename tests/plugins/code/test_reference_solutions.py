"""All 164 HumanEval canonical solutions and all 427 sanitized-MBPP reference solutions score 1; a
mutated wrong solution for each (its return value perturbed) scores 0."""

from __future__ import annotations

import re

import pytest

import rewardkit as rk

pytestmark = pytest.mark.slow

MUTATE = """
def _rk_perturb(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1  # far outside any tolerance
    if isinstance(value, str):
        return value + "~"
    if isinstance(value, (list, tuple)):
        return type(value)([*value, "~"]) if not hasattr(value, "_fields") else ("~",)
    if isinstance(value, (set, frozenset, dict)):
        return ["~"]
    return "~"

def _rk_wrap(fn):
    return lambda *args, **kwargs: _rk_perturb(fn(*args, **kwargs))

{name} = _rk_wrap({name})
"""


def mbpp_entry_point(sample: rk.Sample) -> str:
    defined = set(re.findall(r"^def (\w+)", sample.answer, re.MULTILINE))
    for name in re.findall(r"(\w+)\s*\(", sample.info["test_list"][0]):
        if name in defined:
            return name
    raise AssertionError(f"no entry point for {sample.id}")


def score_all(scorer: rk.Scorer, completions: dict[str, str]) -> dict[str, rk.RewardResult]:
    samples = list(scorer.env.dataset("test"))
    results = scorer.score_batch_sync(samples, [completions[s.id] for s in samples])
    return {s.id: r for s, r in zip(samples, results, strict=False)}


def test_humaneval_canonical_pass_and_mutants_fail(humaneval_scorer: rk.Scorer) -> None:
    samples = list(humaneval_scorer.env.dataset("test"))
    assert len(samples) == 164
    good = score_all(humaneval_scorer, {s.id: s.answer for s in samples})
    assert {k: r.score for k, r in good.items() if r.score != 1.0} == {}
    bad = score_all(
        humaneval_scorer,
        {s.id: s.answer + MUTATE.format(name=s.info["entry_point"]) for s in samples},
    )
    assert {k: r.score for k, r in bad.items() if r.score != 0.0} == {}


def test_mbpp_reference_pass_and_mutants_fail(mbpp_scorer: rk.Scorer) -> None:
    samples = list(mbpp_scorer.env.dataset("test"))
    assert len(samples) == 427
    good = score_all(mbpp_scorer, {s.id: s.answer for s in samples})
    assert {k: (r.score, r.info.get("tests")) for k, r in good.items() if r.score != 1.0} == {}
    bad = score_all(mbpp_scorer, {s.id: s.answer + MUTATE.format(name=mbpp_entry_point(s)) for s in samples})
    assert {k: r.score for k, r in bad.items() if r.score != 0.0} == {}
