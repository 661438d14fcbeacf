"""rewardkit.plugins.code: the `code` environment and its presets `humaneval` and `mbpp` (bundled plugin).

Programs run in a `rewardkit.sandbox` backend (Docker by default); importing this module imports no docker.
"""

from __future__ import annotations

from typing import Any

import rewardkit


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    from rewardkit.plugins.code.env import CodeEnv, HumanEvalEnv, MbppEnv

    register(CodeEnv)
    register(HumanEvalEnv)
    register(MbppEnv)
