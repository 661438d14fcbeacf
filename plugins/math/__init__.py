"""Math environments and rewards: `math` (any dataset; presets `gsm8k`, `math500`), `math.procedural`
(generated problems) and the `math.accuracy` reward.

This module is the plugin's entry point and stays light: sympy, math-verify and the worker pool are
loaded only when an answer needs them.
"""

from __future__ import annotations

from typing import Any

import rewardkit

REWARDKIT_PLUGIN_API = 1


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    from rewardkit.plugins.math.env import GSM8K, MATH500, MathEnv
    from rewardkit.plugins.math.procedural.env import ProceduralMath

    register(MathEnv)
    register(GSM8K)
    register(MATH500, aliases=("math-500",))
    register(ProceduralMath, aliases=("math_procedural",))


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    from rewardkit.plugins.math.rewards import accuracy

    register("math.accuracy", accuracy, reward_range=(0.0, 1.0))
