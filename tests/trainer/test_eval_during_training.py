"""The trainer config's `eval` block: evaluation every N steps with the code of `rewardkit eval`."""

from __future__ import annotations

import pytest
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.evaluation.rundir import latest_records, read_metadata
from rewardkit.host import reset_host
from rewardkit.trainer import train
from rewardkit.trainer.tracking import read_metrics

pytestmark = pytest.mark.usefixtures("tiny_dir")


def test_eval_every_n_steps_is_logged_as_eval_env_pass_at_k(tmp_path):
    reset_host(toy_host())  # evaluation finds environments by name, like `rewardkit eval`
    block = {
        "every": 2,
        "environments": [{"name": "toy.tags", "pass_threshold": 0.25}],
        "num_prompts": 3,
        "rollouts": 2,
        "max_tokens": 8,
    }
    train(tiny_config(tmp_path, steps=3, eval=block), host=toy_host())

    rows = [row for row in read_metrics(tmp_path) if any(key.startswith("eval/") for key in row)]
    assert [row["step"] for row in rows] == [2, 3]  # every 2 steps, and after the last
    for key in ("eval/toy.tags/pass@1", "eval/toy.tags/pass@2", "eval/toy.tags/mean", "eval/overall/pass@1"):
        assert all(0.0 <= row[key] <= 1.0 for row in rows), key
    for step, row in zip((2, 3), rows, strict=True):
        run = tmp_path / "eval" / f"step-{step:06d}"
        metadata = read_metadata(run)
        assert metadata["status"] == "complete"
        assert (
            metadata["metrics"]["environments"]["toy.tags"]["pass_at_k"]["1"] == row["eval/toy.tags/pass@1"]
        )
        records = latest_records(run)
        assert len(records) == 6  # 3 prompts x 2 rollouts
        assert all(record.tokens["completion"] <= 8 for record in records.values())
        assert (
            metadata["config"]["split"] is None and metadata["environments"]["toy.tags"]["split"] == "train"
        )


def test_eval_block_defaults_to_the_training_environments(tmp_path):
    reset_host(toy_host())
    train(tiny_config(tmp_path, steps=1, eval={"every": 5, "num_prompts": 2, "rollouts": 1}), host=toy_host())
    metadata = read_metadata(tmp_path / "eval" / "step-000001")
    assert list(metadata["metrics"]["environments"]) == ["toy.tags"]
