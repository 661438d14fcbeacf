"""rewardkit.plugins.format: format rewards usable by name in any rubric (bundled plugin).

Entry-point module: imports only the standard library and rewardkit; jsonschema and transformers are
imported inside the rewards that need them.
"""

from __future__ import annotations

from typing import Any

import rewardkit
from rewardkit.plugins.format.json_format import json_format
from rewardkit.plugins.format.length import length, overlong
from rewardkit.plugins.format.regex_match import regex_match
from rewardkit.plugins.format.repetition import repetition
from rewardkit.plugins.format.steps import reasoning_steps
from rewardkit.plugins.format.tag_count import tag_count
from rewardkit.plugins.format.tags import split_think
from rewardkit.plugins.format.think_answer import think_answer

REWARDS: dict[str, tuple[Any, tuple[float, float]]] = {
    "format.think_answer": (think_answer, (0.0, 1.0)),
    "format.tag_count": (tag_count, (0.0, 1.0)),
    "format.json": (json_format, (0.0, 1.0)),
    "format.regex": (regex_match, (0.0, 1.0)),
    # band mode scores in [0, 1]; the overlong penalty (same function, overlong=N) in [-1, 0]
    "format.length": (length, (-1.0, 1.0)),
    "format.overlong": (overlong, (-1.0, 0.0)),
    "format.repetition": (repetition, (-1.0, 0.0)),
    "format.reasoning_steps": (reasoning_steps, (0.0, 1.0)),
}

__all__ = ["REWARDS", "split_think"]


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    for name, (fn, reward_range) in REWARDS.items():
        register(name, fn, reward_range=reward_range)
