from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # rk_trainer_toys (also imported by subprocess scripts)

# No hub access at all: tiny models are built locally into a per-session cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = Path(os.environ.get("RK_TEST_TINY_CACHE") or tmp_path_factory.mktemp("rk-cache"))
    os.environ["REWARDKIT_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def torch_threads() -> None:
    import torch

    torch.set_num_threads(1)  # deterministic and fair on a shared 2-core machine


@pytest.fixture(scope="session")
def tiny_dir(tiny_cache: Path, torch_threads: None) -> Path:
    from rewardkit.trainer.tiny import resolve_tiny

    return resolve_tiny("tiny://qwen2?hidden=64&layers=2")


@pytest.fixture
def toy_host():
    from rk_trainer_toys import toy_host

    return toy_host()
