"""The plugin-author kit: the contract every environment and reward must pass, and pytest fixtures.

Fixtures for code-running plugins (a sandbox per test module, Docker checks) live with the sandbox, in
`rewardkit.sandbox.testing`.
"""

from rewardkit.testing.contract import (
    CheckResult,
    ContractError,
    ContractReport,
    check_environment,
    check_plugin,
    check_reward,
)

__all__ = [
    "CheckResult",
    "ContractError",
    "ContractReport",
    "check_environment",
    "check_plugin",
    "check_reward",
]
