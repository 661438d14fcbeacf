"""Agreement with the expected verdicts of other graders' test suites (tests/data/math/SOURCE.md)."""

from collections import Counter
from typing import Any

from rewardkit.plugins.math.grader import GradeConfig, grade_in_process
from rewardkit.plugins.math.symbolic import symbolic_equal

# Measured 335/341 (98.2%); math-verify with default settings agrees on 299/341.
FLOOR = 334
# math-verify's own per-source agreement in the same setting; we must not do worse on any source.
MATH_VERIFY_PER_SOURCE = {
    "huggingface/Math-Verify": 263,
    "hendrycks/math": 7,
    "NVIDIA/NeMo-Skills": 16,
    "EleutherAI/lm-evaluation-harness": 9,
    "codemayq/MindSpeed-RL": 4,
}


def test_agreement_floor(equivalence_cases: list[dict[str, Any]]) -> None:
    config = GradeConfig()
    agree: Counter[str] = Counter()
    misses = []
    for case in equivalence_cases:
        verdict = grade_in_process(case["gold"], case["pred"], config, symbolic_equal)
        if verdict.correct == case["expected"]:
            agree[case["source"].split("@")[0]] += 1
        else:
            misses.append((case["gold"][:40], case["pred"][-40:], case["expected"]))
    assert sum(agree.values()) >= FLOOR, misses
    for source, peer in MATH_VERIFY_PER_SOURCE.items():
        assert agree[source] >= peer, (source, agree[source], peer)
