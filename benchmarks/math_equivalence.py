"""Agreement with expected verdicts on the 341-case equivalence corpus: rewardkit (CLI) vs math-verify.

`--timeout S` raises rewardkit's per-sample deadline, so that on a busy machine the figure measures the
grader's verdicts rather than how long rows waited for a worker.

Run: .venv/bin/python benchmarks/math_equivalence.py [--timeout S]
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from math_common import corpus, run_python, score_with_cli

MATH_VERIFY = """
import json, sys
from math_verify import parse, verify
verdicts = []
for case in json.load(sys.stdin):
    try:
        verdicts.append(bool(verify(parse(case["gold"]), parse(case["pred"]))))
    except Exception:
        verdicts.append(False)
print(json.dumps(verdicts))
"""


# A case whose harness compares at 2-3 decimals (`precision`) asks for rounded matching, off by default.
ROUNDING_PRECISION = 3


def score_cases(
    cases: list[dict[str, Any]], timeout: float | None = None
) -> tuple[list[dict[str, Any]], float]:
    """`rewardkit score math` over the cases, in two runs: default grading, and rounded matching for the
    cases whose harness asked for it; the scored rows come back in case order."""
    rounded = [c["config"].get("precision", 6) <= ROUNDING_PRECISION for c in cases]
    scored: list[dict[str, Any]] = [{}] * len(cases)
    seconds = 0.0
    for flag in (False, True):
        rows = [
            {"id": str(i), "answer": c["gold"], "completion": c["pred"]}
            for i, c in enumerate(cases)
            if rounded[i] == flag
        ]
        extra = ("--set", "grading.rounded_match=true") if flag else ()
        deadline = ("--timeout", str(timeout)) if timeout else ()
        out, elapsed = score_with_cli(rows, "math", *extra, *deadline)
        seconds += elapsed
        for row in out:
            scored[int(row["id"])] = row
    return scored, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--timeout", type=float, help="rewardkit's per-sample deadline (default: the environment's)"
    )
    args = parser.parse_args()
    cases = corpus("math_equivalence.jsonl")
    scored, ours_seconds = score_cases(cases, args.timeout)
    ours = [row["score"] == 1.0 for row in scored]
    errors = sum(row.get("error") is not None for row in scored)
    theirs, theirs_seconds = run_python(MATH_VERIFY, cases)
    table: dict[str, Counter[str]] = {}
    for case, mine, peer in zip(cases, ours, theirs, strict=True):
        counts = table.setdefault(case["source"].split("@")[0], Counter())
        counts["n"] += 1
        counts["rewardkit"] += mine == case["expected"]
        counts["math-verify"] += peer == case["expected"]
    print(f"{'source':36} {'n':>4} {'rewardkit':>10} {'math-verify':>12}")
    for source, c in table.items():
        print(f"{source:36} {c['n']:>4} {c['rewardkit']:>10} {c['math-verify']:>12}")
    total_ours = sum(c["rewardkit"] for c in table.values())
    total_peer = sum(c["math-verify"] for c in table.values())
    n = len(cases)
    print(
        f"total: rewardkit {total_ours}/{n} ({total_ours / n:.1%}), math-verify {total_peer}/{n} "
        f"({total_peer / n:.1%}); ratio {total_ours / total_peer:.3f}; rewardkit errors: {errors}"
    )
    print(f"wall: rewardkit {ours_seconds:.2f}s, math-verify {theirs_seconds:.2f}s")


if __name__ == "__main__":
    main()
