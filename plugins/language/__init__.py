"""rewardkit.plugins.language: language identification and consistency rewards (bundled plugin).

Entry-point module: the rewards are registered by import path; the detector (py3langid, the `language`
extra) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rewardkit
from rewardkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rewardkit.plugins.language.rewards import (
        language_consistency,
        language_id,
        language_match,
        script_mixing,
    )

REWARDS = {
    "language.id": "language_id",
    "language.match": "language_match",
    "language.consistency": "language_consistency",
    "language.script_mixing": "script_mixing",
}

__getattr__ = lazy_exports(__name__, dict.fromkeys(REWARDS.values(), f"{__name__}.rewards"))
__all__ = ["REWARDS", "language_consistency", "language_id", "language_match", "script_mixing"]


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    for name, function in REWARDS.items():
        register(name, f"rewardkit.plugins.language.rewards:{function}", reward_range=(0.0, 1.0))
