"""Fixtures of the server tests: one `rewardkit serve` process for a module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # serve_server and serve_toys

from serve_server import CONFIG, Server, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("serve"), CONFIG)
    yield server
    server.stop()
