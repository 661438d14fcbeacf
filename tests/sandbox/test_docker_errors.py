"""Without a reachable Docker daemon the docker backend fails at start with what to do (no daemon needed)."""

from __future__ import annotations

import pytest

from rewardkit.errors import ConfigError
from rewardkit.sandbox.docker_backend import DockerSandbox


def test_unreachable_daemon_fails_at_start_saying_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    socket = tmp_path / "docker.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket}")
    sandbox = DockerSandbox(pool_size=1)
    with pytest.raises(ConfigError) as caught:
        sandbox.start()
    message = str(caught.value)
    assert f"cannot reach a Docker daemon at unix://{socket}" in message
    assert "systemctl start docker" in message and "--set sandbox=bwrap" in message
    sandbox.close()  # nothing was started: closing is a no-op, not an error
