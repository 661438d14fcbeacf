"""`rewardkit serve` against in-process scoring of the same rows: throughput and per-batch latency (p50,
p99) at 1, 16 and 64 concurrent clients, each sending batches of 64 GSM8K math rows.

Two in-process peers, each with C concurrent callers working through the same 64-row batches:
- `score`: what `rewardkit score` does with a batch: its JSONL rows read and checked by the CLI's own
  RowReader, scored, and each output row JSON-encoded as the CLI writes it. Like the server, it turns JSON
  rows into JSON verdicts; this is the goal's peer (serve >= 0.8x at 16 clients).
- `Scorer`: the bare Python API on samples built beforehand (no JSON on either side): the stricter peer.
The server is a separate `rewardkit serve --env math` process; C concurrent HTTP clients (one aiohttp
session in this process, bodies encoded beforehand) post the batches to /v1/score. The load generator is
aiohttp, not httpx: on a 2-core machine the client shares the cores with the server, and httpx spends
several times aiohttp's CPU per request (its CPU per 1000 rows is printed as `client`). The three alternate,
`--repeats` times per level; medians are printed with the ratio serve / peer. Every served result is
checked against the in-process one. CPU ms per 1000 rows (this process for the peers, the server process
for serve, read from /proc) show the cost apart from how busy the shared machine is.

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
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import aiohttp
import httpx
from serve_rows import batches, math_rows

import rewardkit as rk
from rewardkit.cli.rows import RowReader
from rewardkit.cli.score import output_row

RK = Path(sys.executable).with_name("rewardkit")
# seconds, per-batch latencies, CPU seconds of the scoring process and of this one (serve's client)
Run = tuple[float, list[float], float, float]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process `pid` (Linux /proc); nan where unreadable."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    clients: int, work: list[Any], call: Callable[[Any], Awaitable[None]], pid: int | None
) -> Run:
    """Run `call(item)` over `work` with `clients` concurrent callers."""
    queue = list(reversed(work))
    latencies: list[float] = []

    async def caller() -> None:
        while queue:
            item = queue.pop()
            started = time.perf_counter()
            await call(item)
            latencies.append(time.perf_counter() - started)

    cpu, own, started = cpu_seconds(pid), cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(clients)))
    return time.perf_counter() - started, latencies, cpu_seconds(pid) - cpu, cpu_seconds() - own


async def with_scorer(scorer: rk.Scorer, work: list[list[dict[str, Any]]], clients: int) -> Run:
    prepared = [
        ([rk.Sample.from_dict(row["sample"]) for row in batch], [row["completion"] for row in batch])
        for batch in work
    ]

    async def call(item: tuple[list[rk.Sample], list[str]]) -> None:
        await scorer.score_batch(*item)

    return await drive(clients, prepared, call, None)


async def as_score_cli(scorer: rk.Scorer, files: list[Path], clients: int) -> Run:
    async def call(path: Path) -> None:
        rows = list(RowReader(str(path), scorer.env).rows())
        results = await scorer.score_batch([r.sample for r in rows], [r.completion for r in rows])
        lines = [json.dumps(output_row(r, s), ensure_ascii=False) for r, s in zip(rows, results, strict=True)]
        assert len(lines) == len(rows)  # what the CLI writes; here nothing is kept

    return await drive(clients, files, call, None)


async def served(url: str, pid: int, bodies: list[bytes], clients: int, expected: list[list[Any]]) -> Run:
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def call(index: int) -> None:
            async with session.post("/v1/score", data=bodies[index], headers=headers) as reply:
                reply.raise_for_status()
                scores = [r["score"] for r in json.loads(await reply.read())["results"]]
            if scores != expected[index]:
                raise AssertionError(f"batch {index}: served scores differ from in-process ones")

        return await drive(clients, list(range(len(bodies))), call, pid)


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


def scores(scorer: rk.Scorer, batch: list[dict[str, Any]]) -> list[float | None]:
    samples = [rk.Sample.from_dict(row["sample"]) for row in batch]
    return [r.score for r in scorer.score_batch_sync(samples, [row["completion"] for row in batch])]


def write_batches(work: list[list[dict[str, Any]]], folder: Path) -> list[Path]:
    """Each batch as a `rewardkit score` input file."""
    files = []
    for index, batch in enumerate(work):
        path = folder / f"batch-{index}.jsonl"
        rows = [{**row["sample"], "completion": row["completion"]} for row in batch]
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=48, help="64-row batches per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="alternations of the three sides per level")
    parser.add_argument("--clients", default="1,16,64", help="comma-separated concurrency levels")
    args = parser.parse_args()
    work = batches(math_rows(64 * args.batches))
    bodies = [json.dumps({"items": [{"env": "math", **row} for row in batch]}).encode() for batch in work]
    levels = [int(c) for c in args.clients.split(",")]
    scorer = rk.Scorer(rk.load_environment("math")).start()
    process, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as folder:
            files = write_batches(work, Path(folder))
            expected = [scores(scorer, batch) for batch in work]  # also warms the math workers
            asyncio.run(served(url, process.pid, bodies, 16, expected))
            sides: dict[str, Callable[[int], Awaitable[Run]]] = {
                "score": lambda c: as_score_cli(scorer, files, c),
                "Scorer": lambda c: with_scorer(scorer, work, c),
                "serve": lambda c: served(url, process.pid, bodies, c, expected),
            }
            report(sides, levels, args.repeats, 64 * len(work))
    finally:
        process.terminate()
        process.wait(60)
        scorer.close()


def report(
    sides: dict[str, Callable[[int], Awaitable[Run]]], levels: list[int], repeats: int, rows: int
) -> None:
    print(
        f"{rows} rows per measurement in 64-row batches; {os.cpu_count()} CPUs (shared), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    columns = " | ".join(
        f"{name + ' rows/s':>13} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms/1k':>9}" for name in sides
    )
    print(f"clients | {columns} | client cpu ms/1k | serve/score serve/Scorer")
    for clients in levels:
        runs: dict[str, list[Run]] = {name: [] for name in sides}
        for _ in range(repeats):
            for name, side in sides.items():
                runs[name].append(asyncio.run(side(clients)))
        summary = {name: _summary(rows, side_runs) for name, side_runs in runs.items()}
        cells = " | ".join(
            f"{r:>13.0f} {p50:>7.1f} {p99:>7.1f} {c:>9.0f}" for r, p50, p99, c, _ in summary.values()
        )
        serve, client = summary["serve"][0], summary["serve"][4]
        ratios = f"{serve / summary['score'][0]:>10.2f}x {serve / summary['Scorer'][0]:>11.2f}x"
        print(f"{clients:>7} | {cells} | {client:>16.0f} | {ratios}")


def _summary(rows: int, runs: list[Run]) -> tuple[float, float, float, float, float]:
    rate = statistics.median(rows / seconds for seconds, _, _, _ in runs)
    p50 = statistics.median(percentile(lat, 0.5) for _, lat, _, _ in runs) * 1000
    p99 = statistics.median(percentile(lat, 0.99) for _, lat, _, _ in runs) * 1000
    cpu = statistics.median(cpu for _, _, cpu, _ in runs) * 1e6 / rows
    own = statistics.median(own for _, _, _, own in runs) * 1e6 / rows
    return rate, p50, p99, cpu, own


if __name__ == "__main__":
    main()
