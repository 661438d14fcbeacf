"""kill -9 in the middle of a step, then --resume: nothing before the last checkpoint is lost and the
run continues exactly as an uninterrupted one (same step, optimizer state, weights and data order)."""

import json
import signal
from pathlib import Path

import pytest
import torch
from rk_trainer_toys import run_killable
from safetensors.torch import load_file

from rewardkit.records import read_records
from rewardkit.trainer.checkpoint import find_checkpoint, load_state

SCRIPT = Path(__file__).with_name("resume_script.py")
PER_STEP = 16  # 4 prompts x 4 generations: scoring calls per step


def _run(run_dir, *extra, kill_at=0):
    return run_killable(SCRIPT, run_dir, *extra, kill_at=kill_at, timeout=300)


def _rollouts(run_dir):
    return [(r.step, r.sample.id) for r in read_records(Path(run_dir) / "rollouts.jsonl")]


@pytest.mark.usefixtures("tiny_dir")
def test_resume_after_kill_9_reproduces_the_uninterrupted_run(tmp_path):
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    done = _run(reference)
    assert done.returncode == 0, done.stderr[-3000:]

    crashed = _run(killed, kill_at=2 * PER_STEP + 5)  # in the middle of scoring step 3
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert find_checkpoint(killed).name == "checkpoint-2"

    resumed = _run(killed, str(killed))
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    want, got = load_state(reference / "checkpoint-4"), load_state(killed / "checkpoint-4")
    assert got["step"] == want["step"] == 4
    assert got["data"] == want["data"]
    assert got["scheduler"] == want["scheduler"]
    for key, value in want["optimizer"]["state"].items():
        for name, tensor in value.items():
            assert torch.equal(got["optimizer"]["state"][key][name], tensor), (key, name)
    weights_want = load_file(reference / "checkpoint-4" / "model.safetensors")
    weights_got = load_file(killed / "checkpoint-4" / "model.safetensors")
    assert all(torch.equal(weights_got[k], v) for k, v in weights_want.items())
    assert _rollouts(killed) == _rollouts(reference)  # same data order, steps 1-4, no duplicates
    metrics = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert metrics == [1, 2, 3, 4]
