"""benchmarks/trainer_vs_trl.py runs end to end: both trainers train the tiny model, the ratio is printed."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "trainer_vs_trl.py"


@pytest.mark.slow
def test_the_trl_comparison_runs_both_sides_and_prints_their_ratio(tiny_cache):
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--models", "tiny", "--steps", "3", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FAILED" not in done.stdout, done.stdout[-3000:]
    assert done.stdout.count("reward per step:") == 2
    assert "ratio rewardkit/trl: step time" in done.stdout
    assert "reward over the last quarter of the steps, mean of 1 seed(s): rewardkit" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_multi_turn_trl_comparison_runs_both_sides(tiny_cache):
    """Also the TRL adapter end to end: TRL's GRPOTrainer trains through trl_environment_factory."""
    script = BENCHMARK.with_name("episodes_vs_trl.py")
    args = ["--steps", "3", "--sft-steps", "5", "--batch", "8", "--generations", "4"]
    args += ["--tool-latency", "0.05"]
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=880, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FAILED" not in done.stdout, done.stdout[-3000:]
    assert done.stdout.count("waiting on tools") == 2
    assert "step time rewardkit/TRL:" in done.stdout
