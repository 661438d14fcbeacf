"""A sample's deadline bounds its own grading: rows queued behind slow ones for the shared worker pool do
not time out while they wait."""

from __future__ import annotations

import rewardkit as rk

# Inputs written for this test: each keeps a worker busy until the grading timeout kills it.
SLOW = [
    "\\boxed{7^{7^{7^{7}}}}",
    "\\boxed{(x+1)^{2000} - (x-1)^{2000}}",
    "\\boxed{\\sin(x)^{500} + \\cos(x)^{500} - 1}",
    "\\boxed{3^{4^{5^{6}}}}",
    "\\boxed{(x-2)^{3000} + (x+2)^{3000}}",
]
CORRECT = "<think>square it</think><answer>(x+1)^2</answer>"  # needs the symbolic stage, in a worker


def test_correct_rows_queued_behind_slow_ones_still_score():
    env = rk.load_environment("math", grading={"timeout": 3.0})
    sample = rk.Sample(id="q", prompt=[rk.user("Expand (x + 1)^2.")], answer="x^2 + 2x + 1")
    completions = SLOW + [CORRECT] * 12
    # A per-sample deadline shorter than the queue: the slow rows hold the two workers (and their
    # restarts) for more than 9 s, so this fails wherever waiting for a worker counts against it.
    with rk.Scorer(env, timeout=6.0, concurrency=16) as scorer:
        results = scorer.score_batch_sync([sample] * len(completions), completions)
    outcomes = [(r.score, r.error, r.info.get("verdict")) for r in results]
    assert all(r.error is None and r.score == 0.0 for r in results[: len(SLOW)]), outcomes
    assert [r.score for r in results[len(SLOW) :]] == [1.0] * 12, outcomes
