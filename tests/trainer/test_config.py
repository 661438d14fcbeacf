from pathlib import Path

import pytest
import yaml

from rewardkit.errors import ConfigError
from rewardkit.overrides import load_config_file
from rewardkit.trainer.config import TrainConfig, dump_config, load_config, parse_config
from rewardkit.trainer.pipeline import is_pipeline, parse_pipeline
from rewardkit.trainer.pipeline.config import check_environments_of

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MINIMAL = {"model": {"path": "tiny://qwen2"}, "environments": [{"name": "toy.tags"}]}


def test_defaults_are_complete():
    config = parse_config(MINIMAL)
    assert config.grpo.loss_type == "dapo"
    assert config.grpo.clip_high == config.grpo.epsilon
    assert config.generation.backend == "transformers"
    assert config.batch_completions == 64
    assert config.run_dir == Path("runs/run")


def test_overrides_are_typed_and_nested():
    config = parse_config(MINIMAL, ["grpo.epsilon_high=0.28", "optim.lr=1e-4", "logging.tensorboard=false"])
    assert config.grpo.clip_high == 0.28
    assert config.optim.lr == 1e-4
    assert config.logging.tensorboard is False


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("grpo.epsilonn=0.3", "grpo.epsilonn: unknown field; did you mean 'epsilon'?"),
        (
            "grpo.loss_type=ppo",
            "grpo.loss_type: Input should be 'grpo', 'dr_grpo', 'dapo', 'bnpo', 'gspo' or 'cispo'",
        ),
        ("optim.lr=-1", "optim.lr: Input should be greater than 0"),
        ("generation.vllm.gpu_memory_utilization=2", "generation.vllm.gpu_memory_utilization"),
        ("environments.0.weight=0", "environments.0.weight"),
    ],
)
def test_errors_name_the_field_path(override, message):
    data = {**MINIMAL, "environments": {"0": {"name": "toy.tags"}}} if override.startswith("env") else MINIMAL
    if override.startswith("env"):
        data = {**MINIMAL, "environments": [{"name": "toy.tags", "weight": 0}]}
        override = "name=x"  # the list item itself is invalid; the override just adds a harmless top key
    with pytest.raises(ConfigError) as info:
        parse_config(data, [override])
    assert message in str(info.value)


def test_missing_sections_are_reported():
    with pytest.raises(ConfigError, match=r"model: required field is missing"):
        parse_config({"environments": [{"name": "x"}]})
    with pytest.raises(ConfigError, match=r"environments: List should have at least 1 item"):
        parse_config({"model": {"path": "x"}, "environments": []})


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(dump_config(parse_config(MINIMAL, ["seed=3"])))
    assert load_config(path).seed == 3
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")


RUN_CONFIGS = sorted(CONFIGS.glob("*.yaml"))


def test_required_configs_exist():
    names = {path.name for path in RUN_CONFIGS}
    assert {"quickstart.yaml", "gsm8k-qwen2.5-0.5b.yaml", "code-humaneval.yaml", "r1-mixed.yaml"} <= names


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_every_config_validates_and_starts_with_its_command(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith(f"# rewardkit train configs/{path.name}")
    data = load_config_file(path)
    if is_pipeline(data):  # every stage is validated as it will run, and its environments resolved
        check_environments_of(parse_pipeline(data))
        return
    config = load_config(path)
    assert isinstance(config, TrainConfig)
    _check_names_when_installed(config)


def _check_names_when_installed(config):
    """Environment configs and rubric names are checked against whatever plugins are installed."""
    from rewardkit.host import get_host
    from rewardkit.loading import make_rubric

    host = get_host()
    for entry in config.environments:
        if entry.name not in host.environments:
            continue  # that plugin is not installed here: schema-level validation only
        env = host.environment(entry.name).cls(entry.config)
        if entry.rubric and all(n in host.rewards or n == entry.name for n in entry.rubric):
            make_rubric(entry.rubric, env=env, host=host)


ACCELERATE = sorted((CONFIGS / "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("path", ACCELERATE, ids=lambda p: p.name)
def test_accelerate_configs_are_valid_for_accelerate_launch(path):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env, prepare_simple_launcher_cmd_env

    assert path.read_text().startswith("# accelerate launch --config_file configs/accelerate/")
    raw = yaml.safe_load(path.read_text())
    args = launch_command_parser().parse_args(
        ["--config_file", str(path), "-m", "rewardkit.trainer.cli", "x"]
    )
    args, _, _ = _validate_launch_command(args)
    assert args.num_processes == raw["num_processes"]
    if raw["distributed_type"] == "DEEPSPEED":
        assert args.use_deepspeed
        assert args.zero_stage == raw["deepspeed_config"]["zero_stage"]
    elif raw["distributed_type"] in ("FSDP", "MULTI_GPU"):
        env = prepare_multi_gpu_env(args)  # accelerate's own checks of the FSDP options run here
        if raw["distributed_type"] == "FSDP":
            assert env["ACCELERATE_USE_FSDP"] == "true"
            assert env["FSDP_TRANSFORMER_CLS_TO_WRAP"] == "Qwen2DecoderLayer"
    else:
        _, env = prepare_simple_launcher_cmd_env(args)
        assert env["ACCELERATE_USE_CPU"] == "True"
