"""The plugin-author kit: the contract every environment must pass, sandbox fixtures, pytest fixtures."""

from typing import Any

from rewardkit.testing.contract import (
    CheckResult,
    ContractError,
    ContractReport,
    check_environment,
    check_reward,
)

# Sandbox helpers import pytest; they load on first use so the contract kit works without it.
_SANDBOX_NAMES = {
    "sandbox_fixture",
    "open_sandbox",
    "require_backend",
    "require_docker",
    "docker_unavailable_reason",
    "bwrap_unavailable_reason",
    "PROBE",
    "CLEAN_PROBE",
}


def __getattr__(name: str) -> Any:
    if name in _SANDBOX_NAMES:
        from rewardkit.sandbox import testing

        return getattr(testing, name)
    raise AttributeError(f"module 'rewardkit.testing' has no attribute {name!r}")


__all__ = [
    "CLEAN_PROBE",
    "PROBE",
    "CheckResult",
    "ContractError",
    "ContractReport",
    "bwrap_unavailable_reason",
    "check_environment",
    "check_reward",
    "docker_unavailable_reason",
    "open_sandbox",
    "require_backend",
    "require_docker",
    "sandbox_fixture",
]
