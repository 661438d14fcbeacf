"""Math environments and rewards: `math` (any dataset; presets `gsm8k`, `math500`), `math.procedural`
(generated problems) and the `math.accuracy` reward.

This module is the plugin's entry point and stays light: everything is registered by import path, so an
environment's module (and sympy, math-verify, the worker pool) loads only when it is used.
"""

from __future__ import annotations

from typing import Any

import rewardkit

REWARDKIT_PLUGIN_API = 1


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register("rewardkit.plugins.math.env:MathEnv", name="math")
    register("rewardkit.plugins.math.env:GSM8K", name="gsm8k")
    register("rewardkit.plugins.math.env:MATH500", name="math500", aliases=("math-500",))
    register(
        "rewardkit.plugins.math.procedural.env:ProceduralMath",
        name="math.procedural",
        aliases=("math_procedural",),
    )


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    register("math.accuracy", "rewardkit.plugins.math.rewards:accuracy", reward_range=(0.0, 1.0))
