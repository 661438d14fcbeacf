"""Ray fan-out on one machine against the local pool: the same 64-row batches of GSM8K math rows scored by a
local Scorer (the host's loop and the math worker processes) and by a RayScorer (`--executor ray`: an actor
pool, each actor with its own Scorer and worker processes), with C concurrent callers of `score_batch`.

The two alternate, `--repeats` times per level, and medians are printed with the ratio ray / local; every
Ray result is checked against the local one. On one machine Ray can only add cost (serialisation, the
actors' hop, a second set of worker processes competing for the same cores): the ratio is its overhead.

Run: .venv/bin/python benchmarks/ray_overhead.py [--batches 32] [--repeats 3] [--clients 1,8] [--actors 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from serve_rows import batches, math_rows

import rewardkit as rk
from rewardkit.executors import RayOptions, make_scorer


async def run(scorer: Any, work: list[tuple[list[rk.Sample], list[str]]], clients: int) -> float:
    """Seconds to score every batch of `work` with `clients` concurrent callers."""
    queue = list(reversed(work))

    async def caller() -> None:
        while queue:
            await scorer.score_batch(*queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(clients)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=32, help="64-row batches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the two sides per level")
    parser.add_argument("--clients", default="1,8", help="comma-separated concurrency levels")
    parser.add_argument("--actors", type=int, default=2, help="Ray actors (and CPUs of the local cluster)")
    args = parser.parse_args()
    work = [
        ([rk.Sample.from_dict(row["sample"]) for row in batch], [row["completion"] for row in batch])
        for batch in batches(math_rows(64 * args.batches))
    ]
    env = rk.load_environment("math")
    options = RayOptions(actors=args.actors, num_cpus=args.actors)
    with make_scorer(env) as local, make_scorer(env, executor="ray", ray=options) as remote:
        expected = [[r.score for r in local.score_batch_sync(*batch)] for batch in work]
        for _ in range(args.actors):  # every actor's worker processes start before anything is timed
            asyncio.run(run(remote, work, args.actors))
        got = [[r.score for r in remote.score_batch_sync(*batch)] for batch in work]
        if got != expected:
            raise AssertionError("Ray scores differ from local ones")
        rows = 64 * len(work)
        print(
            f"{rows} rows per measurement in 64-row batches, {args.actors} Ray actors; "
            f"machine: {os.cpu_count()} CPUs (shared: others' load varies)"
        )
        print(f"{'clients':>7} | {'local rows/s':>12} | {'ray rows/s':>10} | ray/local")
        for clients in [int(c) for c in args.clients.split(",")]:
            local_s, ray_s = [], []
            for _ in range(args.repeats):
                local_s.append(asyncio.run(run(local, work, clients)))
                ray_s.append(asyncio.run(run(remote, work, clients)))
            lr, rr = rows / statistics.median(local_s), rows / statistics.median(ray_s)
            print(f"{clients:>7} | {lr:>12.0f} | {rr:>10.0f} | {rr / lr:.2f}x")


if __name__ == "__main__":
    main()
