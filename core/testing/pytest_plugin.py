"""pytest plugin for environment authors (auto-loaded through the `pytest11` entry point).

Fixtures:
- `check_env`: the contract function, `check_env(MyEnv(), gold=...)` fails the test with every violation.
- `rewardkit_host`: a freshly loaded plugin host, installed as the process-wide host for the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rewardkit.host import PluginHost, get_host, reset_host
from rewardkit.testing.contract import check_environment


@pytest.fixture
def check_env() -> Callable[..., Any]:
    return check_environment


@pytest.fixture
def rewardkit_host() -> Iterator[PluginHost]:
    previous = get_host()
    host = PluginHost().load_entry_points()
    reset_host(host)
    try:
        yield host
    finally:
        reset_host(previous)
