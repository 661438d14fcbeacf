"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Public reference data (HumanEval, MBPP, IFEval prompts, ...) lives in the team's shared corpora beside the
# checkout; it is read from there, never copied into the repository. REWARDKIT_CORPORA overrides the location.
CORPORA = Path(os.environ.get("REWARDKIT_CORPORA", REPO.parent / "shared" / "corpora"))

# No test may reach the Hugging Face hub; loading code must work from local files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_host():
    """Each test starts from the installed plugins, whatever an earlier test registered."""
    from rewardkit.host import reset_host

    reset_host(None)
    yield
    reset_host(None)


@pytest.fixture(scope="session")
def corpus() -> Callable[[str], Path]:
    """`corpus("humaneval.jsonl")` -> its path; a missing file fails the test rather than skipping it."""

    def find(name: str) -> Path:
        path = CORPORA / name
        if not path.is_file():
            pytest.fail(
                f"reference corpus {name} not found in {CORPORA}; set REWARDKIT_CORPORA to its folder"
            )
        return path

    return find
