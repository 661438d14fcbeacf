"""The plugin-author kit: the contract every environment must pass, and pytest fixtures."""

from rewardkit.testing.contract import (
    CheckResult,
    ContractError,
    ContractReport,
    check_environment,
    check_reward,
)

__all__ = ["CheckResult", "ContractError", "ContractReport", "check_environment", "check_reward"]
