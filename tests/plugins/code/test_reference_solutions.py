"""All 164 HumanEval canonical solutions and all 427 sanitized-MBPP reference solutions score 1; a
mutated wrong solution for each (its return value perturbed) scores 0. On Docker, the production backend,
every problem; on bwrap, which runs the same judge and program with other plumbing, every BWRAP_STRIDE-th."""

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


BWRAP_STRIDE = 6


def problems(scorer: rk.Scorer, backend: str, expected: int) -> list[rk.Sample]:
    samples = list(scorer.env.dataset("test"))
    assert len(samples) == expected
    return samples if backend == "docker" else samples[::BWRAP_STRIDE]


def scores(scorer: rk.Scorer, samples: list[rk.Sample], completions: list[str]) -> dict[str, rk.RewardResult]:
    return dict(zip([s.id for s in samples], scorer.score_batch_sync(samples, completions), strict=True))


def test_humaneval_canonical_pass_and_mutants_fail(humaneval_scorer: rk.Scorer, backend: str) -> None:
    samples = problems(humaneval_scorer, backend, 164)
    good = scores(humaneval_scorer, samples, [s.answer for s in samples])
    assert {k: r.score for k, r in good.items() if r.score != 1.0} == {}
    mutants = [s.answer + MUTATE.format(name=s.info["entry_point"]) for s in samples]
    bad = scores(humaneval_scorer, samples, mutants)
    assert {k: r.score for k, r in bad.items() if r.score != 0.0} == {}


def test_mbpp_reference_pass_and_mutants_fail(mbpp_scorer: rk.Scorer, backend: str) -> None:
    samples = problems(mbpp_scorer, backend, 427)
    good = scores(mbpp_scorer, samples, [s.answer for s in samples])
    assert {k: (r.score, r.info.get("tests")) for k, r in good.items() if r.score != 1.0} == {}
    bad = scores(mbpp_scorer, samples, [s.answer + MUTATE.format(name=mbpp_entry_point(s)) for s in samples])
    assert {k: r.score for k, r in bad.items() if r.score != 0.0} == {}
