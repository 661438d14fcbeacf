"""`rewardkit serve` against in-process scoring of the same rows: throughput and per-batch latency (p50,
p99) at 1, 16 and 64 concurrent clients, each sending batches of 64 GSM8K math rows.

The in-process peer is what `rewardkit score` does with the rows: the Scorer API in this process, C
concurrent callers awaiting `score_batch` on 64-row batches. The server is a separate `rewardkit serve
--env math` process; C concurrent HTTP clients (in this process, bodies encoded beforehand) post the same
batches to /v1/score. The two alternate, `--repeats` times per level, and medians are printed with the
ratio serve / in-process. Every served result is checked against the in-process one.

Run: .venv/bin/python benchmarks/serve_throughput.py [--batches 48] [--repeats 3] [--clients 1,16,64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import httpx
from serve_rows import batches, math_rows

import rewardkit as rk

RK = Path(sys.executable).with_name("rewardkit")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(clients: int, work: list[Any], call: Any) -> tuple[float, list[float]]:
    """Run `call(item)` over `work` with `clients` concurrent callers; (seconds, per-call latencies)."""
    queue = list(reversed(work))
    latencies: list[float] = []

    async def caller() -> None:
        while queue:
            item = queue.pop()
            started = time.perf_counter()
            await call(item)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(clients)))
    return time.perf_counter() - started, latencies


async def in_process(
    scorer: rk.Scorer, work: list[list[dict[str, Any]]], clients: int
) -> tuple[float, list[float]]:
    prepared = [
        ([rk.Sample.from_dict(row["sample"]) for row in batch], [row["completion"] for row in batch])
        for batch in work
    ]

    async def call(item: tuple[list[rk.Sample], list[str]]) -> None:
        await scorer.score_batch(*item)

    return await drive(clients, prepared, call)


async def served(
    url: str, work: list[list[dict[str, Any]]], clients: int, expected: list[list[Any]]
) -> tuple[float, list[float]]:
    bodies = [json.dumps({"items": [{"env": "math", **row} for row in batch]}).encode() for batch in work]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600) as client:

        async def call(index: int) -> None:
            reply = await client.post(
                "/v1/score", content=bodies[index], headers={"content-type": "application/json"}
            )
            reply.raise_for_status()
            scores = [r["score"] for r in reply.json()["results"]]
            if scores != expected[index]:
                raise AssertionError(f"batch {index}: served scores differ from in-process ones")

        return await drive(clients, list(range(len(work))), call)


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(RK), "serve", "--env", "math", "--port", str(port), "--max-items", "4096"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=48, help="64-row batches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the two sides per level")
    parser.add_argument("--clients", default="1,16,64", help="comma-separated concurrency levels")
    args = parser.parse_args()
    work = batches(math_rows(64 * args.batches))
    levels = [int(c) for c in args.clients.split(",")]
    scorer = rk.Scorer(rk.load_environment("math")).start()
    process, url = start_server()
    try:
        expected = [
            [
                r.score
                for r in scorer.score_batch_sync(
                    [rk.Sample.from_dict(row["sample"]) for row in batch],
                    [row["completion"] for row in batch],
                )
            ]
            for batch in work
        ]  # also warms both sides' math workers before anything is timed
        asyncio.run(served(url, work, 16, expected))
        rows = 64 * len(work)
        print(f"{rows} rows per measurement in 64-row batches; machine: {os.cpu_count()} CPUs (shared)")
        latency = f"{'p50 ms':>7} {'p99 ms':>7}"
        print(f"clients | in-process rows/s {latency} | serve rows/s {latency} | serve/in-process")
        for clients in levels:
            local, remote = [], []
            for _ in range(args.repeats):
                local.append(asyncio.run(in_process(scorer, work, clients)))
                remote.append(asyncio.run(served(url, work, clients, expected)))
            summary = [_summary(rows, runs) for runs in (local, remote)]
            (lr, l50, l99), (sr, s50, s99) = summary
            local_cols = f"{lr:>17.0f} {l50:>7.1f} {l99:>7.1f}"
            served_cols = f"{sr:>12.0f} {s50:>7.1f} {s99:>7.1f}"
            print(f"{clients:>7} | {local_cols} | {served_cols} | {sr / lr:.2f}x")
    finally:
        process.terminate()
        process.wait(60)
        scorer.close()


def _summary(rows: int, runs: list[tuple[float, list[float]]]) -> tuple[float, float, float]:
    rate = statistics.median(rows / seconds for seconds, _ in runs)
    p50 = statistics.median(percentile(lat, 0.5) for _, lat in runs) * 1000
    p99 = statistics.median(percentile(lat, 0.99) for _, lat in runs) * 1000
    return rate, p50, p99


if __name__ == "__main__":
    main()
