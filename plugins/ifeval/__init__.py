"""rewardkit.plugins.ifeval: the IFEval environment and an `ifeval.instructions` reward (bundled plugin).

Entry-point module: imports only rewardkit and the standard library; nltk and langdetect are imported
by the checkers that need them.
"""

from __future__ import annotations

from typing import Any

import rewardkit
from rewardkit.plugins.ifeval.env import IFEval, aggregate
from rewardkit.plugins.ifeval.registry import INSTRUCTIONS, evaluate
from rewardkit.plugins.ifeval.reward import instructions

__all__ = ["INSTRUCTIONS", "IFEval", "aggregate", "evaluate", "instructions"]


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register(IFEval, aliases=("google/IFEval",))


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    register("ifeval.instructions", instructions, reward_range=(0.0, 1.0))
