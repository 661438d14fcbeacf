"""Whole-process speed, `rewardkit score math` vs a Python process running math-verify's
`verify(parse(f"${gold}$"), parse(completion))` (the gold as LaTeX), on two sets:

- gsm8k: the 1319 GSM8K test answers written as `The answer is $\\boxed{A}$.` (plain numbers);
- symbolic: 300 sympy-heavy rows from `math_symbolic_set.py` (gold and answer written differently).

Runs alternate between the two graders; the figures are medians over `--repeats` runs each, and the
ratio is math-verify's time over rewardkit's (above 1: rewardkit is faster).

Run: .venv/bin/python benchmarks/math_speed.py [--repeats 3] [--set gsm8k|symbolic] [--timeout S]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from math_common import corpus, run_python, score_with_cli
from math_symbolic_set import symbolic_rows

MATH_VERIFY = """
import json, sys
from math_verify import parse, verify
verdicts = []
for row in json.load(sys.stdin):
    try:
        verdicts.append(bool(verify(parse("$" + row["answer"] + "$"), parse(row["completion"]))))
    except Exception:
        verdicts.append(False)
print(json.dumps(verdicts))
"""


def gsm8k_rows() -> list[dict[str, Any]]:
    answers = [row["final_answer"] for row in corpus("gsm8k_test.jsonl")]
    return [
        {"id": str(i), "answer": a, "completion": f"The answer is $\\boxed{{{a}}}$.", "expected": True}
        for i, a in enumerate(answers)
    ]


SETS = {"gsm8k": gsm8k_rows, "symbolic": symbolic_rows}


def compare(name: str, rows: list[dict[str, Any]], repeats: int, timeout: float | None) -> None:
    ours_times, theirs_times = [], []
    extra = ("--timeout", str(timeout)) if timeout else ()
    for _ in range(repeats):
        inputs = [{k: v for k, v in r.items() if k != "expected"} for r in rows]
        scored, seconds = score_with_cli(inputs, "math", *extra)
        ours_times.append(seconds)
        verdicts, seconds = run_python(MATH_VERIFY, rows)
        theirs_times.append(seconds)
    ours = [row["score"] == 1.0 for row in scored]
    errors = sum(row.get("error") is not None for row in scored)
    expected = [row["expected"] for row in rows]
    agree_ours = sum(a == b for a, b in zip(ours, expected, strict=True))
    agree_theirs = sum(a == b for a, b in zip(verdicts, expected, strict=True))
    ours_s, theirs_s = statistics.median(ours_times), statistics.median(theirs_times)
    print(f"{name}: {len(rows)} rows, {repeats} alternating runs each")
    n = len(rows)
    print(f"  rewardkit   {ours_s:6.2f}s median, agrees with expected on {agree_ours}/{n}, errors {errors}")
    print(f"  math-verify {theirs_s:6.2f}s median, agrees with expected on {agree_theirs}/{n}")
    print(f"  speed ratio (math-verify time / rewardkit time): {theirs_s / ours_s:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", choices=sorted(SETS), action="append")
    parser.add_argument(
        "--timeout", type=float, help="rewardkit's per-sample deadline (default: the environment's)"
    )
    args = parser.parse_args()
    for name in args.set or sorted(SETS):
        compare(name, SETS[name](), args.repeats, args.timeout)


if __name__ == "__main__":
    main()
