"""`train --check` resolves what a run needs without loading it; `--resume` needs no CONFIG; TensorBoard and
LoRA checkpoints survive a resume and a move."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
import yaml
from click.testing import CliRunner
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.errors import ConfigError
from rewardkit.trainer import train
from rewardkit.trainer.config import LoggingConfig, parse_config
from rewardkit.trainer.plugin import train_command
from rewardkit.trainer.tracking import Tracker, read_metrics

MATH = {"name": "math", "rubric": {"math.accuracy": 1.0, "format.think_answer": 0.2}}


def check(tmp_path, *environments, **sections):
    config = {"model": {"path": str(tmp_path / "no-model-here")}, "environments": list(environments)}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**config, **sections}))
    return CliRunner().invoke(train_command, [str(path), "--check"])


def test_check_accepts_a_good_config_without_loading_the_model(tmp_path):
    result = check(tmp_path, MATH, {"name": "math.procedural", "config": {"seed": 3}})
    assert result.exit_code == 0, result.output
    assert "math.accuracy: 1.0" in result.output


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"name": "mathh"}, "environments.0.name: unknown environment 'mathh'. Did you mean 'math'?"),
        (
            {"name": "math", "config": {"gradng": {}}},
            "environments.0.config.gradng: unknown field; did you mean 'grading'?",
        ),
        (
            {"name": "math", "rubric": {"math.acuracy": 1.0}},
            "environments.0.rubric.math.acuracy: unknown reward",
        ),
        (
            {"name": "math", "rubric": {"format.length": 0.1}},
            "environments.0.rubric.format.length: give target, or min and/or max",
        ),
    ],
)
def test_check_resolves_environments_configs_and_rubrics(tmp_path, environment, message):
    result = check(tmp_path, environment)
    assert isinstance(result.exception, ConfigError)
    assert message in str(result.exception)


def test_check_and_training_refuse_wandb_when_it_is_not_installed(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # not importable, whether or not it is installed
    expected = "logging.wandb: true needs the wandb package; pip install wandb, or set logging.wandb=false"
    result = check(tmp_path, MATH, logging={"wandb": True})
    assert str(result.exception) == expected
    with pytest.raises(ConfigError, match=r"logging\.wandb: true needs the wandb package"):
        train(tiny_config(tmp_path, logging={"wandb": True}), host=toy_host())


def test_a_dataset_whose_columns_do_not_map_fails_before_training(tmp_path):
    from rewardkit.trainer.envs import build_slots

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"question": "1+1", "solution": "2"}) + "\n")
    config = parse_config(
        {"model": {"path": "x"}, "environments": [{"name": "math", "config": {"data": {"path": str(data)}}}]}
    )
    with pytest.raises(ConfigError) as error:
        build_slots(config.environments)
    assert str(error.value).startswith("environments.0 (math): sample 'train-0' is missing 'answer'")


def test_tensorboard_shows_each_step_once_after_a_resume(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logging = LoggingConfig(tensorboard=True, progress=False)
    first = Tracker(tmp_path, logging, total_steps=5, start_step=0, run_config={})
    for step in range(1, 6):
        first.log(step, {"loss": float(step)})
    first.close()
    resumed = Tracker(tmp_path, logging, total_steps=5, start_step=2, run_config={})  # checkpoint-2
    for step in range(3, 6):
        resumed.log(step, {"loss": 10.0 * step})
    resumed.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [
        (1, 1.0),
        (2, 2.0),
        (3, 30.0),
        (4, 40.0),
        (5, 50.0),
    ]
    assert [row["step"] for row in read_metrics(tmp_path)] == [1, 2, 3, 4, 5]


@pytest.mark.usefixtures("tiny_dir")
def test_resume_without_config_and_a_portable_lora_checkpoint(tmp_path, tiny_cache, monkeypatch):
    from rewardkit.host import reset_host

    reset_host(toy_host())
    run = tmp_path / "run"
    config = tiny_config(run, steps=2, model={"lora": {"r": 4}}, checkpoint={"every": 1, "save_final": True})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    first = CliRunner().invoke(train_command, [str(path)], catch_exceptions=False)
    assert first.exit_code == 0, first.output

    adapter = json.loads((run / "checkpoint-2" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "tiny://qwen2?hidden=64&layers=2"
    for file in (run / "checkpoint-2").iterdir():
        if file.suffix in (".json", ".yaml", ".txt", ".jinja"):
            assert str(tiny_cache) not in file.read_text(), file.name  # nothing points into this cache

    moved = tmp_path / "elsewhere"
    shutil.copytree(run, moved)
    shutil.rmtree(run)
    monkeypatch.chdir(tmp_path)
    checked = CliRunner().invoke(train_command, ["--resume", str(moved), "optim.max_steps=3", "--check"])
    assert checked.exit_code == 0, checked.output
    assert f"output_dir: {moved}" in checked.output and "max_steps: 3" in checked.output
    resumed = CliRunner().invoke(train_command, ["--resume", str(moved), "optim.max_steps=3"])
    assert resumed.exit_code == 0, resumed.output
    assert [row["step"] for row in read_metrics(moved)] == [1, 2, 3]
    assert (moved / "checkpoint-3" / "adapter_model.safetensors").is_file()
    assert not run.exists()


def test_train_without_config_or_resume_says_what_to_give():
    result = CliRunner().invoke(train_command, [])
    assert (
        str(result.exception)
        == "train: give CONFIG (a YAML file), or --resume RUN_DIR to continue a saved run"
    )
