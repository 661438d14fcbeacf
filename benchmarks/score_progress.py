"""`rewardkit score`'s chunking against its peer, the fixed chunks it replaced (max(64, 4 x concurrency) rows,
one at a time): rows per second on a fast environment, and how many rows pass before the output and the
progress bar first move on a slow one. Both run in this process through the same Scorer, alternated.

Run: .venv/bin/python benchmarks/score_progress.py [--rows 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import rewardkit as rk
from rewardkit.cli.output import Output
from rewardkit.cli.rows import RowReader
from rewardkit.cli.score import Tally, _Run


class Words(rk.Environment):
    """Fast: scoring is a word count."""

    name = "bench.words"

    def dataset(self, split):
        return []

    async def score(self, sample, completion):
        return float(len(completion.split()) == 4)


class Sleepy(Words):
    """Slow: every row waits 20 ms, as for a remote judge or a sandbox."""

    name = "bench.sleepy"

    async def score(self, sample, completion):
        await asyncio.sleep(0.02)
        return 1.0


class FixedChunks(_Run):
    """The peer: chunks of max(64, 4 x concurrency) rows, each scored before the next is sent."""

    def __init__(self, scorer, output, tally, concurrency):
        super().__init__(scorer, output, tally, concurrency)
        self.chunk = self.smallest = max(64, 4 * concurrency)
        self.concurrency = self.chunk  # one chunk in flight

    def _resize(self, seconds):
        return None


class FirstAdvance:
    def __init__(self):
        self.started, self.first, self.rows = time.perf_counter(), None, None

    def advance(self, rows):
        if self.first is None:
            self.first, self.rows = time.perf_counter() - self.started, rows


def run(kind, env, source, concurrency=16):
    with tempfile.TemporaryFile("w+") as sink, rk.Scorer(env, concurrency=concurrency) as scorer:
        progress = FirstAdvance()
        started = time.perf_counter()
        kind(scorer, Output("bench", sink), Tally(), concurrency).drive(
            RowReader(source, env).rows(), progress
        )
        return time.perf_counter() - started, progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the fast run")
    parser.add_argument("--repeats", type=int, default=5, help="alternated runs of each side")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    fast, slow = folder / "fast.jsonl", folder / "slow.jsonl"
    fast.write_text("".join(json.dumps({"completion": "a b c d"}) + "\n" for _ in range(args.rows)))
    slow.write_text("".join(json.dumps({"completion": "x"}) + "\n" for _ in range(256)))
    times = {"adaptive": [], "fixed": []}
    for _ in range(args.repeats):
        for name, kind in (("adaptive", _Run), ("fixed", FixedChunks)):
            times[name].append(run(kind, Words(), str(fast))[0])
    ours, theirs = statistics.median(times["adaptive"]), statistics.median(times["fixed"])
    print(f"fast environment, {args.rows} rows, median of {args.repeats} alternated runs:")
    print(f"  adaptive chunks {args.rows / ours:,.0f} rows/s, fixed chunks {args.rows / theirs:,.0f} rows/s")
    print(f"  time ratio adaptive/fixed: {ours / theirs:.2f}")
    for name, kind in (("adaptive", _Run), ("fixed", FixedChunks)):
        seconds, progress = run(kind, Sleepy(), str(slow))
        print(
            f"slow environment (20 ms a row), {name}: first {progress.rows} rows written after "
            f"{progress.first:.2f} s; all 256 in {seconds:.2f} s"
        )


if __name__ == "__main__":
    main()
