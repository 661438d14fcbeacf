"""Two processes through `accelerate launch` (DDP over gloo on CPU), as configs/accelerate/ddp-cpu.yaml."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CONFIG = HERE.parents[1] / "configs" / "accelerate" / "ddp-cpu.yaml"

pytestmark = pytest.mark.usefixtures("tiny_dir")


def test_two_process_ddp_run_keeps_ranks_in_sync_and_splits_the_prompts(tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1", "MASTER_PORT": "29531"}
    command = [str(accelerate), "launch", "--config_file", str(CONFIG), "--main_process_port", "29531"]
    done = subprocess.run(
        [*command, str(HERE / "ddp_script.py"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["processes"] == 2 and r["steps"] == 3 for r in ranks)
    # DDP all-reduces the gradients: both replicas take the same optimizer steps.
    assert ranks[0]["weights"] == ranks[1]["weights"] != ranks[0]["initial_weights"]
    # Each step's prompts are split between the ranks (4 prompts x 4 completions per step, 2 prompts each).
    per_step = 2 * 4
    for step in range(3):
        mine, theirs = (set(r["prompts"][step * per_step : (step + 1) * per_step]) for r in ranks)
        assert len(mine) == len(theirs) == 2 and not mine & theirs
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
