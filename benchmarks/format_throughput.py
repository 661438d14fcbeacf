"""Throughput of the format rewards (completions per second on one core), called directly.

    .venv/bin/python benchmarks/format_throughput.py

Completions are R1-style, 0.3-3 KB. The peer is open-r1's format reward (one anchored DOTALL regex),
timed on the same completions; the target is >= 10,000 completions/s per core for regex-level checks.
"""

from __future__ import annotations

import functools
import random
import re
import time
from collections.abc import Callable
from typing import Any

from rewardkit.host import get_host
from rewardkit.plugins.format import REWARDS

PARAMS: dict[str, dict[str, Any]] = {
    "format.regex": {"pattern": r"<answer>\s*\d+\s*</answer>", "mode": "partial"},
    "format.length": {"min": 50, "max": 400},
    "format.overlong": {"max": 400, "cache": 100},
    "format.json": {},
}
OPEN_R1 = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL | re.MULTILINE)


def completions(n: int = 2000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = ("we add the two numbers then check the result carefully step by step first next").split()  # noqa: SIM905
    out = []
    for _ in range(n):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(50, 500)))
        answer = str(rng.randint(0, 999))
        out.append(
            rng.choice([f"<think>\n{body}\n</think>\n<answer>\n{answer}\n</answer>", f"{body} {answer}"])
        )
    return out


def rate(fn: Callable[[str], Any], texts: list[str], min_seconds: float = 0.5) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < min_seconds:
        for text in texts:
            fn(text)
        done += len(texts)
    return done / (time.perf_counter() - started)


def main() -> None:
    texts = completions()
    print(f"{len(texts)} completions, mean {sum(map(len, texts)) / len(texts):.0f} chars")
    peer = rate(OPEN_R1.match, texts)
    print(f"{'open-r1 format regex (peer)':28s} {peer:12,.0f} /s   1.00x")
    for name in REWARDS:
        params = PARAMS.get(name, {})
        per_second = rate(functools.partial(get_host().reward(name).fn, None, **params), texts)
        print(f"{name:28s} {per_second:12,.0f} /s {per_second / peer:6.2f}x")


if __name__ == "__main__":
    main()
