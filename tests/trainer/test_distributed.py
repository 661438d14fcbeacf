"""Two processes through `accelerate launch` (DDP over gloo on CPU), as configs/accelerate/ddp-cpu.yaml,
against the same run on one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit.records import read_records

HERE = Path(__file__).parent
CONFIG = HERE.parents[1] / "configs" / "accelerate" / "ddp-cpu.yaml"
SCRIPT = HERE / "ddp_script.py"

pytestmark = pytest.mark.usefixtures("tiny_dir")


def test_two_process_ddp_run_keeps_ranks_in_sync_and_reports_what_one_process_does(tmp_path):
    _launch(tmp_path, port="29531", timeout=240)
    _run([sys.executable, str(SCRIPT), str(tmp_path), "--single"], _env("29531"), timeout=240)
    ranks = [json.loads((tmp_path / f"run{i}.json").read_text()) for i in (0, 1)]
    alone = json.loads((tmp_path / "single0.json").read_text())
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["processes"] == 2 and r["steps"] == 3 for r in ranks)
    # DDP all-reduces the gradients: both replicas take the same optimizer steps.
    assert ranks[0]["weights"] == ranks[1]["weights"] != ranks[0]["initial_weights"]
    # Each step's prompts are split between the ranks (4 prompts x 4 completions per step, 2 prompts each).
    per_step = 2 * 4
    for step in range(3):
        mine, theirs = (set(r["prompts"][step * per_step : (step + 1) * per_step]) for r in ranks)
        assert len(mine) == len(theirs) == 2 and not mine & theirs
    _assert_same_metrics(ranks[0]["history"], alone["history"])
    _assert_same_metrics(ranks[1]["history"], alone["history"])
    for name, values in alone["state"].items():
        assert ranks[0]["state"][name] == pytest.approx(values, rel=1e-4, abs=1e-6), name
    # Every rank's completions are in rollouts.jsonl, as in the one-process run.
    two = sorted(_row(r) for r in read_records(tmp_path / "run" / "rollouts.jsonl"))
    one = sorted(_row(r) for r in read_records(tmp_path / "single" / "rollouts.jsonl"))
    assert len(two) == 3 * 16 and two == one
    # Every process takes part in saving; the main one writes the checkpoint.
    assert (tmp_path / "run" / "checkpoint-3" / "model.safetensors").is_file()


def _row(record):
    return (record.step, record.sample.id, record.rollout, record.completion, record.result.score)


def _assert_same_metrics(got, want):
    assert [row["step"] for row in got] == [row["step"] for row in want] == [1, 2, 3]
    for ours, theirs in zip(got, want, strict=True):
        keys = {
            k for k in theirs if not k.startswith("time/") and k not in ("tokens_per_s", "reward/overlap")
        }
        assert keys == {k for k in ours if k in keys} and keys <= set(ours)
        for key in keys:
            assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-6), (ours["step"], key)


def _env(port: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1", "MASTER_PORT": port}


def _run(command: list[str], env: dict[str, str], timeout: float) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def _launch(tmp_path: Path, *args: str, port: str, timeout: float = 600) -> None:
    """`accelerate launch` of ddp_script.py over two CPU processes; each rank writes its report."""
    # This interpreter's accelerate (a console script's shebang may name another environment's Python).
    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    command = [*launch, "--config_file", str(CONFIG), "--main_process_port", port]
    _run([*command, str(SCRIPT), str(tmp_path), *args], _env(port), timeout)


@pytest.mark.slow
@pytest.mark.timeout(900)  # two processes generating episodes on a loaded 2-core machine
def test_episodes_train_in_two_processes_with_step_wide_group_statistics(tmp_path, tiny_dir):
    """Episode rollouts in a two-process DDP run: each rank plays its share of the step's episodes, the
    advantages come from every rank's outcomes (scale_rewards: batch needs the whole step), and the replicas
    stay in sync."""
    import torch
    from episode_toys import TOOL_TEMPLATE, model_with_template, supervise
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.trainer.advantages import group_advantages

    model_dir = model_with_template(tiny_dir, tmp_path / "model", TOOL_TEMPLATE)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    supervise(AutoModelForCausalLM.from_pretrained(model_dir).float(), tokenizer).save_pretrained(model_dir)
    _launch(tmp_path, "--episodes", str(model_dir), port="29533")

    ranks = [json.loads((tmp_path / f"episodes{i}.json").read_text()) for i in (0, 1)]
    assert all(r["processes"] == 2 and r["steps"] == 2 for r in ranks)
    assert ranks[0]["weights"] == ranks[1]["weights"] != ranks[0]["initial_weights"]
    assert max(t for r in ranks for t in r["turns_mean"]) > 1.0  # episodes went past their first turn
    differs = []
    for step in range(2):
        scores = [s for r in ranks for s in r["scores"][step]]
        assert len(scores) == 16  # 2 prompts x 4 episodes per rank, one sample each (append-only template)
        rewards = torch.tensor([float("nan") if s is None else s for s in scores])
        expected = group_advantages(rewards, 4, "batch").values
        got = torch.tensor([a for r in ranks for a in r["advantages"][step]])
        assert torch.allclose(got, expected.float(), atol=1e-5), (got, expected)
        local = group_advantages(rewards[:8], 4, "batch").values  # what rank 0 alone would have computed
        differs.append(not torch.allclose(got[:8], local.float(), atol=1e-5))
    assert any(differs)  # the statistics really are step-wide
