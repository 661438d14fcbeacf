"""Agreement with the expected verdicts of other graders' test suites (tests/data/math/SOURCE.md)."""

from collections import Counter
from typing import Any

from rewardkit.plugins.math.grader import GradeConfig, grade_in_process
from rewardkit.plugins.math.symbolic import symbolic_match

# benchmarks/math_equivalence.py prints today's agreement of rewardkit and math-verify; this is its floor.
FLOOR = 335
# math-verify's own per-source agreement in the same setting; we must not do worse on any source.
MATH_VERIFY_PER_SOURCE = {
    "huggingface/Math-Verify": 263,
    "hendrycks/math": 7,
    "NVIDIA/NeMo-Skills": 16,
    "EleutherAI/lm-evaluation-harness": 9,
    "codemayq/MindSpeed-RL": 4,
}
# A case whose harness compares at 2-3 decimals (`precision`) asks for rounded matching, off by default.
ROUNDING_PRECISION = 3


def config_for(case: dict[str, Any]) -> GradeConfig:
    return GradeConfig(rounded_match=case["config"].get("precision", 6) <= ROUNDING_PRECISION)


def test_agreement_floor(equivalence_cases: list[dict[str, Any]]) -> None:
    agree: Counter[str] = Counter()
    misses = []
    for case in equivalence_cases:
        verdict = grade_in_process(case["gold"], case["pred"], config_for(case), symbolic_match)
        if verdict.correct == case["expected"]:
            agree[case["source"].split("@")[0]] += 1
        else:
            misses.append((case["gold"][:40], case["pred"][-40:], case["expected"]))
    assert sum(agree.values()) >= FLOOR, misses
    for source, peer in MATH_VERIFY_PER_SOURCE.items():
        assert agree[source] >= peer, (source, agree[source], peer)
