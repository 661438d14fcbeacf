"""Adversarial answers: how long each takes alone, and whether, scored 16 at a time among correct rows,
any correct row turns into an error or a wrong score (a slow row may time out; its neighbours may not).

`--deadline S` sets the batch's per-sample deadline (default: the environment's), which shows whether a
correct row was spoiled by the grader or by waiting for a worker.

Run: .venv/bin/python benchmarks/math_adversarial.py [--timeout 3] [--deadline S] [--part alone|batch]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from math_common import score_with_cli
from math_symbolic_set import symbolic_rows

import rewardkit

ATTACKS = {
    "exponent tower": "\\boxed{9^{9^{9^{9^{9^{9}}}}}}",
    "giant difference": "\\boxed{10^{10^{100}} - 10^{10^{100}} + 7}",
    "factorial tower": "\\boxed{(10^{10})!!}",
    "big multivariate power": "\\boxed{(x+y+z+w+1)^{16} - (x+y+z+w)^{16}}",
    "big power with a decimal": "\\boxed{(x+y+z+w+1.5)^{16} - (x+y+z+w)^{16}}",
    "10k nested parentheses": "\\boxed{" + "(" * 10_000 + "1" + ")" * 10_000 + "}",
    "1 MB of 1+1+...": "1+" * 500_000 + "1",
    "long sum in a box": "\\boxed{" + "1+" * 450 + "1}",
    "unclosed fractions": "\\boxed{\\frac{" * 5_000,
    "100k unclosed boxes": "\\boxed{" * 100_000,
    "huge integer": "\\boxed{" + "9" * 390 + "}",
    "nested radicals": "\\boxed{" + "\\sqrt{2+" * 15 + "2" + "}" * 15 + "}",
    "binary garbage": "\x00\xff\ufffd" * 100_000,
    "many dollars": "$" * 150_000,
}


def alone(timeout: float) -> None:
    env = rewardkit.load_environment("math", grading={"timeout": timeout})
    sample = rewardkit.Sample(id="a", prompt=[], answer="7")
    with rewardkit.Scorer(env) as scorer:
        scorer.score_sync(sample, "\\boxed{\\sqrt{2}}")  # worker start-up is not part of a sample's time
        worst = 0.0
        for name, attack in ATTACKS.items():
            start = time.perf_counter()
            result = scorer.score_sync(sample, attack)
            elapsed = time.perf_counter() - start
            worst = max(worst, elapsed)
            verdict = result.info.get("verdict") or result.error
            print(f"{name:24} score={result.score} verdict={verdict!s:24.24} {elapsed:6.2f}s")
    status = "OK" if worst <= timeout + 1 else "OVER"
    print(f"alone: worst case {worst:.2f}s with timeout {timeout:g}s (limit {timeout + 1:g}s): {status}")


def batch(timeout: float, deadline: float | None = None) -> None:
    """Every attack once per 16-row chunk, among correct sympy-heavy rows, at the CLI's concurrency 16."""
    correct = [row for row in symbolic_rows(120) if row["expected"]]
    attacks = list(ATTACKS.values())[:5]  # the ones that reach the worker, not the ones cut off early
    rows, kinds = [], []
    for index, row in enumerate(correct):
        if index % 12 == 0:
            for attack in attacks:
                rows.append({"id": f"attack-{len(rows)}", "answer": "7", "completion": attack})
                kinds.append("attack")
        rows.append({"id": row["id"], "answer": row["answer"], "completion": row["completion"]})
        kinds.append("correct")
    start = time.perf_counter()
    extra = ("--timeout", str(deadline)) if deadline else ()
    scored, _ = score_with_cli(
        rows, "math", "--concurrency", "16", "--set", f"grading.timeout={timeout}", *extra
    )
    elapsed = time.perf_counter() - start
    outcome: Counter[tuple[str, str]] = Counter()
    for kind, row in zip(kinds, scored, strict=True):
        label = "error" if row.get("error") else f"score {row['score']}"
        outcome[kind, label] += 1
    for (kind, label), count in sorted(outcome.items()):
        print(f"batch: {kind:8} rows with {label:10}: {count}")
    spoiled = sum(n for (kind, label), n in outcome.items() if kind == "correct" and label != "score 1.0")
    status = "OK" if spoiled == 0 else "SPOILED"
    print(f"batch: {len(rows)} rows in {elapsed:.1f}s; correct rows not scored 1.0: {spoiled}: {status}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=3.0, help="grading.timeout in seconds")
    parser.add_argument("--deadline", type=float, help="the batch's per-sample deadline in seconds")
    parser.add_argument("--part", choices=["alone", "batch"], action="append")
    args = parser.parse_args()
    for part in args.part or ["alone", "batch"]:
        if part == "alone":
            alone(args.timeout)
        else:
            batch(args.timeout, args.deadline)


if __name__ == "__main__":
    main()
