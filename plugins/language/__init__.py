"""rewardkit.plugins.language: language identification and consistency rewards (bundled plugin).

Entry-point module: the detector (py3langid, the `language` extra) is imported on first use.
"""

from __future__ import annotations

from typing import Any

import rewardkit
from rewardkit.plugins.language.rewards import (
    language_consistency,
    language_id,
    language_match,
    script_mixing,
)

REWARDS: dict[str, Any] = {
    "language.id": language_id,
    "language.match": language_match,
    "language.consistency": language_consistency,
    "language.script_mixing": script_mixing,
}

__all__ = ["REWARDS", "language_consistency", "language_id", "language_match", "script_mixing"]


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    for name, fn in REWARDS.items():
        register(name, fn, reward_range=(0.0, 1.0))
