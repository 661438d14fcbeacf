"""A trainer built from Python changes no process-wide setting; `rewardkit train` applies them."""

from __future__ import annotations

import logging
import os

import pytest
import torch
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.errors import ConfigError
from rewardkit.trainer import configure_process
from rewardkit.trainer.config import parse_config
from rewardkit.trainer.process import IN_PROCESS_VLLM, check_process


@pytest.fixture
def private_environ(monkeypatch):
    """os.environ as a copy, so what a test sets never reaches the rest of the session."""
    monkeypatch.setattr(os, "environ", dict(os.environ))
    os.environ.pop(IN_PROCESS_VLLM, None)


@pytest.fixture
def thread_count():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_building_a_trainer_leaves_torchs_threads_alone(tmp_path, tiny_dir, thread_count, caplog):
    from rewardkit.trainer.loop import GRPOTrainer

    config = parse_config(tiny_config(tmp_path, threads=thread_count + 2))
    with caplog.at_level(logging.WARNING, logger="rewardkit.trainer.process"):
        trainer = GRPOTrainer(config, host=toy_host())
    trainer.close()
    assert torch.get_num_threads() == thread_count
    assert "configure_process" in caplog.text


@pytest.mark.usefixtures("private_environ")
def test_the_vllm_backend_asks_for_configure_process_instead_of_setting_variables(tmp_path):
    config = parse_config(tiny_config(tmp_path, generation={"backend": "vllm"}))
    with pytest.raises(ConfigError, match=r"rewardkit.trainer.configure_process\(config\) first"):
        check_process(config)
    assert IN_PROCESS_VLLM not in os.environ


@pytest.mark.usefixtures("private_environ")
def test_server_mode_needs_no_in_process_engine_variable(tmp_path):
    """The server runs vLLM's engine; the trainer only talks to it, so a script need not set it."""
    generation = {"backend": "vllm", "vllm": {"mode": "server"}}
    check_process(parse_config(tiny_config(tmp_path, generation=generation)))


@pytest.mark.usefixtures("private_environ")
def test_configure_process_applies_threads_and_vllms_variables(tmp_path, thread_count):
    config = parse_config(tiny_config(tmp_path, threads=thread_count + 1, generation={"backend": "vllm"}))
    os.environ["REWARDKIT_CACHE"] = str(tmp_path)
    os.environ.pop("VLLM_CACHE_ROOT", None)
    configure_process(config)
    assert torch.get_num_threads() == thread_count + 1
    assert os.environ[IN_PROCESS_VLLM] == "0"
    assert os.environ["VLLM_CACHE_ROOT"] == str(tmp_path / "vllm")  # under the one cache directory
    check_process(config)  # now satisfied
