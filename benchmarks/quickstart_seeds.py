"""`make quickstart` over several seeds: the held-out table of each, its wall and CPU time, and the load.

    python benchmarks/quickstart_seeds.py                       # seeds 0 1 2, configs/quickstart.yaml
    python benchmarks/quickstart_seeds.py --seeds 5 --keep runs/qs-bench   # seeds 0..4, runs kept

Each seed is one `rewardkit train configs/quickstart.yaml seed=N` in its own process, one after the other.
The peer of GRPO is the run's own cold start: the table prints the SFT stage's and the GRPO stage's sampled
pass@1 (at the training temperature), greedy pass@1, pass@8 and format rate, and the gain, against the goal
(GRPO sampled pass@1 at least 0.75 and 0.25 above the SFT stage's). Wall time on a shared machine is
pessimistic: the CPU seconds (user + system of the run) and the load average beside them are the fairer
figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_LEVEL, GOAL_GAIN = 0.75, 0.25


def cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class SeedRun:
    seed: int
    wall: float
    cpu: float  # user + system seconds of the run
    load: float  # median 1-minute load average while it ran
    sft: dict[str, Any]  # the stage's row of summary.json
    grpo: dict[str, Any]

    @property
    def gain(self) -> float:
        return self.grpo["pass@1"] - self.sft["pass@1"]

    @property
    def meets_goal(self) -> bool:
        return self.grpo["pass@1"] >= GOAL_LEVEL and self.gain >= GOAL_GAIN


def run_seed(seed: int, output: Path, config: Path, overrides: list[str]) -> SeedRun:
    command = [sys.executable, "-m", "rewardkit.cli", "train", str(config), f"seed={seed}"]
    command += [f"output_dir={output}", *overrides]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    loads: list[float] = []
    cpu, started = cpu_seconds_of_children(), time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        while True:
            loads.append(os.getloadavg()[0])
            try:
                proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        wall, cpu = time.perf_counter() - started, cpu_seconds_of_children() - cpu
        if proc.returncode:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            raise SystemExit(f"seed {seed}: rewardkit train failed ({proc.returncode}):\n{tail}")
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    return SeedRun(seed, wall, cpu, statistics.median(loads or [0.0]), summary["sft"], summary["grpo"])


def print_table(runs: list[SeedRun]) -> None:
    columns = [column for column in runs[0].sft if column != "prompts"]  # pass@k follows summary.rollouts
    stages = [f"{stage} {column}" for stage in ("sft", "grpo") for column in columns]
    print(" | ".join(["seed", *stages, "gain", "wall s", "cpu s", "load"]))
    for run in runs:
        cells = [_cell(stage.get(c)) for stage in (run.sft, run.grpo) for c in columns]
        cells += [f"{run.gain:+.3f}", f"{run.wall:.0f}", f"{run.cpu:.0f}", f"{run.load:.1f}"]
        print(" | ".join([str(run.seed), *cells]))
    met = sum(run.meets_goal for run in runs)
    print(f"goal (GRPO pass@1 >= {GOAL_LEVEL}, >= {GOAL_GAIN} above SFT): met on {met} of {len(runs)} seeds")
    print(f"cpu seconds per run: median {statistics.median(run.cpu for run in runs):.0f}")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="run seeds 0 .. N-1")
    parser.add_argument(
        "--config", default=str(ROOT / "configs" / "quickstart.yaml"), help="the pipeline config"
    )
    parser.add_argument(
        "--keep", default=None, help="write the runs under this folder (default: a temporary one)"
    )
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides for every run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.keep or scratch).resolve()  # the runs start in the repository root
        runs = [
            run_seed(seed, base / f"seed-{seed}", Path(args.config), args.overrides)
            for seed in range(args.seeds)
        ]
    print_table(runs)


if __name__ == "__main__":
    main()
