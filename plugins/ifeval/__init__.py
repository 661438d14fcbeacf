"""rewardkit.plugins.ifeval: the IFEval environment and an `ifeval.instructions` reward (bundled plugin).

Entry-point module: both are registered by import path, so loading the plugin imports neither; nltk and
langdetect are imported by the checkers that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rewardkit
from rewardkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rewardkit.plugins.ifeval.env import IFEval, aggregate
    from rewardkit.plugins.ifeval.registry import INSTRUCTIONS, evaluate
    from rewardkit.plugins.ifeval.reward import instructions

__getattr__ = lazy_exports(
    __name__,
    {
        "IFEval": f"{__name__}.env",
        "aggregate": f"{__name__}.env",
        "INSTRUCTIONS": f"{__name__}.registry",
        "evaluate": f"{__name__}.registry",
        "instructions": f"{__name__}.reward",
    },
)
__all__ = ["INSTRUCTIONS", "IFEval", "aggregate", "evaluate", "instructions"]


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register("rewardkit.plugins.ifeval.env:IFEval", name="ifeval", aliases=("google/IFEval",))


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    register("ifeval.instructions", "rewardkit.plugins.ifeval.reward:instructions", reward_range=(0.0, 1.0))
