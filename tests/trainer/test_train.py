"""End-to-end GRPO runs on the tiny CPU model (seconds each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.host import PluginHost
from rewardkit.records import read_records
from rewardkit.trainer import train
from rewardkit.trainer.rewards import RewardErrorRateExceeded
from rewardkit.trainer.tracking import read_metrics

pytestmark = pytest.mark.usefixtures("tiny_dir")


def _mean(rows, key):
    return sum(r[key] for r in rows) / len(rows)


def test_reward_rises_on_a_format_reward(tmp_path):
    config = tiny_config(
        tmp_path, steps=40, grpo={"prompts_per_step": 8, "num_generations": 8}, logging={"tensorboard": True}
    )
    result = train(config, host=toy_host())
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == list(range(1, 41))
    first, last = _mean(rows[:5], "reward/mean"), _mean(rows[-5:], "reward/mean")
    assert last > first + 0.08, (first, last)
    assert last > 2 * first
    for key in (
        "entropy",
        "clip/region",
        "grad_norm",
        "time/generate",
        "time/train",
        "tokens_per_s",
        "completion/length_mean",
        "reward/toy.tags/len/mean",
        "reward/toy.tags/std",
    ):
        assert key in rows[-1], key
    assert "kl" not in rows[-1]  # beta 0: no reference model, no KL
    assert (tmp_path / "tensorboard").is_dir()
    assert result.step == 40


def test_two_environments_from_two_plugins(tmp_path):
    host = PluginHost().load_entry_points(allow=["wordcount"])  # the installed third-party example
    if "wordcount" not in host.environments:
        pytest.skip("the example plugin rewardkit-wordcount is not installed")
    host.add_plugin("toy-short", toy_host().pm.get_plugin("toy-short"))
    config = tiny_config(
        tmp_path,
        steps=2,
        environments=[{"name": "wordcount", "config": {"target": 5}}, {"name": "toy.short"}],
        logging={"rollouts": True},
    )
    train(config, host=host)
    rows = read_metrics(tmp_path)
    rollouts = list(read_records(tmp_path / "rollouts.jsonl"))
    envs = {r.env for r in rollouts}
    assert envs == {"wordcount", "toy.short"}
    assert any(f"reward/{env}/mean" in row for row in rows for env in envs)
    skipped = [r for r in rollouts if r.env == "toy.short" and int(r.sample.id.split("-")[1]) % 2]
    assert all(r.result.score is None for r in skipped)  # None: excluded, not zero
    assert sum(row["reward/skipped"] for row in rows) == len(skipped)
    assert [r.step for r in rollouts] == [1] * 16 + [2] * 16


def test_reward_errors_above_the_limit_stop_the_run(tmp_path):
    config = tiny_config(tmp_path, environments=[{"name": "toy.flaky"}])
    with pytest.raises(RewardErrorRateExceeded, match=r"step 1: 16 of 16 rewards failed \(toy.flaky: 16\)"):
        train(config, host=toy_host())


def test_lora_with_kl_uses_the_base_model_as_reference(tmp_path):
    from rewardkit.trainer.config import parse_config
    from rewardkit.trainer.loop import GRPOTrainer

    config = tiny_config(
        tmp_path,
        steps=2,
        model={"lora": {"r": 4}},
        grpo={"beta": 0.1, "num_iterations": 2},
        checkpoint={"save_final": True},
    )
    trainer = GRPOTrainer(parse_config(config), host=toy_host())
    assert trainer.models.reference is None  # no second model: the adapter is switched off instead
    trainer.train()
    rows = read_metrics(tmp_path)
    assert rows[-1]["kl"] > 0.0  # second iteration: the adapter has moved away from the base
    assert (tmp_path / "checkpoint-2" / "adapter_config.json").is_file()


def test_full_model_with_kl_loads_a_frozen_reference_and_saves_hf_checkpoints(tmp_path):
    from transformers import AutoModelForCausalLM

    from rewardkit.trainer.config import parse_config
    from rewardkit.trainer.loop import GRPOTrainer

    config = tiny_config(
        tmp_path,
        steps=3,
        grpo={"beta": 0.05},
        checkpoint={"every": 1, "keep_last": 1, "save_final": True},
        optim={"micro_batch_size": 5, "scheduler": "linear", "warmup_steps": 1},
    )
    trainer = GRPOTrainer(parse_config(config), host=toy_host())
    assert trainer.models.reference is not None and not any(
        p.requires_grad for p in trainer.models.reference.parameters()
    )
    trainer.train()
    rows = read_metrics(tmp_path)
    assert rows[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # step 1: the policy is the reference
    assert rows[2]["kl"] > 1e-6  # step 3: it has moved away (lr 0 at step 1: warm-up)
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-3"]  # keep_last=1
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "checkpoint-3")
    trained = trainer.models.policy.state_dict()
    assert all((reloaded.state_dict()[k] == v).all() for k, v in trained.items())


def test_cli_validates_and_runs_an_installed_environment(tmp_path):
    from rewardkit.trainer.plugin import train_command

    path = tmp_path / "run.yaml"
    import yaml

    config = tiny_config(tmp_path / "run", steps=1)
    config["environments"] = [{"name": "wordcount", "config": {"target": 3}}]
    path.write_text(yaml.safe_dump(config))
    checked = CliRunner().invoke(train_command, [str(path), "grpo.epsilon=0.3", "--check"])
    assert checked.exit_code == 0 and "epsilon: 0.3" in checked.output
    bad = CliRunner().invoke(train_command, [str(path), "grpo.epsilonn=0.3"])
    assert "grpo.epsilonn: unknown field" in str(bad.exception)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "rewardkit.trainer.cli", str(path), "optim.max_steps=1"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=240,
    )
    if "unknown environment 'wordcount'" in done.stderr:
        pytest.skip("the example plugin rewardkit-wordcount is not installed")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "done: 1 steps" in done.stdout
    assert len(read_metrics(Path(tmp_path / "run"))) == 1


def test_gdpo_normalises_each_rubric_item_of_the_rollout(tmp_path):
    from rewardkit.trainer.advantages import component_table, decoupled_advantages
    from rewardkit.trainer.config import parse_config
    from rewardkit.trainer.loop import GRPOTrainer

    rubric = {"toy.tags": 1.0, "toy.brevity": 0.5, "toy.short": 0.0}
    config = tiny_config(
        tmp_path,
        environments=[{"name": "toy.tags", "rubric": {"toy.tags": 1.0, "toy.brevity": 0.5}}],
        grpo={"multi_objective_aggregation": "normalize_then_sum"},
    )
    trainer = GRPOTrainer(parse_config(config), host=toy_host())
    try:
        rollout = trainer.rollout()
    finally:
        trainer.close()
    table, weights = component_table(rollout.results, ["toy.tags"] * 16, {"toy.tags": rubric})
    assert weights.tolist() == [1.0, 0.5]  # the zero-weight item is a metric, not a component
    assert not table.isnan().any()
    expected = decoupled_advantages(table, weights, group_size=4)
    assert torch.equal(rollout.batch.advantages, expected.values)
