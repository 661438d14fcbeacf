"""Without a reachable Docker daemon the docker backend fails at start with what to do (no daemon needed)."""

from __future__ import annotations

import asyncio

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
    assert "systemctl start docker" in message
    sandbox.close()  # nothing was started: closing is a no-op, not an error


def test_the_code_environment_names_its_field_that_picks_the_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from rewardkit.plugins.code.env import HumanEvalEnv

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    env = HumanEvalEnv(sandbox_options={"pool_size": 1})
    with pytest.raises(ConfigError) as caught:
        asyncio.run(env.setup())
    message = str(caught.value)
    assert message.startswith(f"{env.name}: the docker sandbox cannot reach a Docker daemon")
    assert message.endswith(
        "or choose another backend with this environment's `sandbox` field (now 'docker'), "
        "e.g. --set sandbox=bwrap"
    )


def test_a_mistyped_option_is_an_error_naming_it_before_anything_starts() -> None:
    with pytest.raises(ConfigError, match=r"^docker sandbox options.pool_sizee: unknown field; did you mean"):
        DockerSandbox(pool_sizee=1)
