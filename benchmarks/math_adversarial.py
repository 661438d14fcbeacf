"""Worst-case time per adversarial answer (must be <= grading timeout + 1 s), one sample at a time.

Run: .venv/bin/python benchmarks/math_adversarial.py [timeout_seconds]
"""

from __future__ import annotations

import sys
import time

import rewardkit

ATTACKS = {
    "exponent tower": "\\boxed{9^{9^{9^{9^{9^{9}}}}}}",
    "factorial tower": "\\boxed{(10^{10})!!}",
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


def main() -> None:
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    env = rewardkit.load_environment("math", grading={"timeout": timeout})
    sample = next(iter(env.dataset("train")))
    with rewardkit.Scorer(env) as scorer:
        scorer.score_sync(sample, "\\boxed{\\sqrt{2}}")  # worker start-up is not part of a sample's time
        worst = 0.0
        for name, attack in ATTACKS.items():
            start = time.perf_counter()
            result = scorer.score_sync(sample, attack)
            elapsed = time.perf_counter() - start
            worst = max(worst, elapsed)
            print(f"{name:26} score={result.score} verdict={result.info.get('verdict')!s:22} {elapsed:6.2f}s")
    verdict = "OK" if worst <= timeout + 1 else "OVER"
    print(f"worst case {worst:.2f}s with timeout {timeout:g}s (limit {timeout + 1:g}s): {verdict}")


if __name__ == "__main__":
    main()
