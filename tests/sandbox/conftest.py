"""Sandbox fixtures: one warm sandbox per backend per module. Docker tests skip without a daemon,
or FAIL when REWARDKIT_REQUIRE_DOCKER=1 (see rewardkit.sandbox.testing.require_backend)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rewardkit.sandbox import Sandbox
from rewardkit.sandbox.testing import open_sandbox

BACKENDS = [pytest.param("docker", marks=pytest.mark.docker), "bwrap"]


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    # One slot, so the probe after an attack necessarily runs in the slot the attack used.
    options = {"pool_size": 1} if request.param == "docker" else {"concurrency": 1}
    box = open_sandbox(request.param, **options)
    yield box
    box.close()
