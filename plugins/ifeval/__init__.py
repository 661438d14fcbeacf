"""rewardkit.plugins.ifeval: the IFEval environment and an `ifeval.instructions` reward (bundled plugin).

Entry-point module: both are registered by import path, so loading the plugin imports neither; nltk and
langdetect are imported by the checkers that need them.
"""

from __future__ import annotations

from typing import Any

import rewardkit


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register("rewardkit.plugins.ifeval.env:IFEval", name="ifeval", aliases=("google/IFEval",))


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    register("ifeval.instructions", "rewardkit.plugins.ifeval.reward:instructions", reward_range=(0.0, 1.0))
