"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os

import pytest

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
