"""Speed on the 1319 GSM8K test answers written as `The answer is $\\boxed{A}$.`, whole processes each:
`rewardkit score math` vs a Python process running math-verify's `verify(parse(gold), parse(pred))`.

Run: .venv/bin/python benchmarks/math_speed.py
"""

from __future__ import annotations

from math_common import corpus, run_python, score_with_cli

MATH_VERIFY = """
import json, sys
from math_verify import parse, verify
rows = json.load(sys.stdin)
print(json.dumps(sum(bool(verify(parse(r["answer"]), parse(r["completion"]))) for r in rows)))
"""


def main() -> None:
    answers = [row["final_answer"] for row in corpus("gsm8k_test.jsonl")]
    rows = [
        {"id": str(i), "answer": a, "completion": f"The answer is $\\boxed{{{a}}}$."}
        for i, a in enumerate(answers)
    ]
    scored, ours = score_with_cli(rows)
    correct = sum(row["score"] == 1.0 for row in scored)
    peer_correct, theirs = run_python(MATH_VERIFY, rows)
    print(f"rewardkit: {correct}/{len(rows)} correct in {ours:.2f}s (whole process)")
    print(f"math-verify: {peer_correct}/{len(rows)} correct in {theirs:.2f}s (whole process)")
    print(f"speed-up: {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
