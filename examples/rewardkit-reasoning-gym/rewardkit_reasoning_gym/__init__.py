"""rewardkit plugin: every reasoning-gym task as an environment named `reasoning_gym.<task>`.

Registering imports nothing of reasoning_gym; an environment imports it when it reads its dataset or
scores. See tasks.py for how strictly each task is scored.
"""

from __future__ import annotations

from typing import Any

import rewardkit as rk

REWARDKIT_PLUGIN_API = 1


@rk.hookimpl
def register_environments(register: Any) -> None:
    from rewardkit_reasoning_gym.env import TASK_CLASSES

    for cls in TASK_CLASSES.values():
        register(cls)
