"""Fixtures of the evaluation tests: the toy environments installed as a plugin, and a scripted endpoint."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # eval_toys and openai_stub, also for subprocesses through PYTHONPATH

from eval_helpers import scripted  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402


@pytest.fixture
def tiny_cache(tmp_path_factory, monkeypatch) -> str:
    """Tiny models are built into a cache of this test session (or RK_TEST_TINY_CACHE)."""
    cache = os.environ.get("RK_TEST_TINY_CACHE") or str(tmp_path_factory.getbasetemp() / "rk-cache")
    monkeypatch.setenv("REWARDKIT_CACHE", cache)
    import torch

    torch.set_num_threads(1)  # fair on a shared 2-core machine
    return cache


@pytest.fixture
def toys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Install eval_toys as the distribution `rewardkit-evaltoys`; returns the environment for subprocesses
    (which see only this plugin)."""
    from rewardkit.host import reset_host

    site = tmp_path / "site"
    info = site / "rewardkit_evaltoys-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rewardkit-evaltoys\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rewardkit]\nevaltoys = eval_toys\n")
    monkeypatch.syspath_prepend(str(site))
    reset_host(None)
    path = os.pathsep.join([str(site), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "REWARDKIT_PLUGINS": "evaltoys"}


@pytest.fixture
def stub_factory() -> Iterator:
    started: list[OpenAIStub] = []

    def make(script, **options) -> OpenAIStub:
        stub = OpenAIStub(script, **options).__enter__()
        started.append(stub)
        return stub

    yield make
    for stub in started:
        stub.__exit__(None, None, None)


@pytest.fixture
def make_run(toys, stub_factory, tmp_path):
    """`make_run(replies, rollouts=4, env="toy.answer", **config)` -> a finished run folder."""
    from rewardkit.evaluation import parse_eval_config
    from rewardkit.evaluation.run import evaluate

    count = 0

    def make(replies, rollouts: int = 4, env: str = "toy.answer", **config) -> Path:
        nonlocal count
        count += 1
        stub = stub_factory(scripted(replies))
        run = tmp_path / f"run-{count}"
        parsed = parse_eval_config(
            {
                "model": "stub-model",
                "environments": [{"name": env, **config.pop("env_options", {})}],
                "rollouts": rollouts,
                "endpoint": {"base_url": stub.base_url},
                **config,
            }
        )
        evaluate(parsed, run)
        return run

    return make
