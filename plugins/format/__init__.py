"""rewardkit.plugins.format: format rewards usable by name in any rubric (bundled plugin).

Entry-point module: the rewards are registered by import path and imported on first use; jsonschema and
transformers are imported inside the rewards that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rewardkit
from rewardkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from rewardkit.plugins.format.tags import split_think

REWARDS: dict[str, tuple[str, tuple[float, float]]] = {
    "format.think_answer": ("think_answer:think_answer", (0.0, 1.0)),
    "format.tag_count": ("tag_count:tag_count", (0.0, 1.0)),
    "format.json": ("json_format:json_format", (0.0, 1.0)),
    "format.regex": ("regex_match:regex_match", (0.0, 1.0)),
    # band mode scores in [0, 1]; the overlong penalty (same function, overlong=N) in [-1, 0]
    "format.length": ("length:length", (-1.0, 1.0)),
    "format.overlong": ("length:overlong", (-1.0, 0.0)),
    "format.repetition": ("repetition:repetition", (-1.0, 0.0)),
    "format.reasoning_steps": ("steps:reasoning_steps", (0.0, 1.0)),
}

__getattr__ = lazy_exports(__name__, {"split_think": f"{__name__}.tags"})
__all__ = ["REWARDS", "split_think"]


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    for name, (path, reward_range) in REWARDS.items():
        register(name, f"rewardkit.plugins.format.{path}", reward_range=reward_range)
