"""rewardkit.plugins.code: the `code` environment and its presets `humaneval` and `mbpp` (bundled plugin).

Programs run in a `rewardkit.sandbox` backend (Docker by default). Environments are registered by import
path: loading this plugin imports neither them nor docker.
"""

from __future__ import annotations

from typing import Any

import rewardkit


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register("rewardkit.plugins.code.env:CodeEnv", name="code")
    register("rewardkit.plugins.code.env:HumanEvalEnv", name="humaneval")
    register("rewardkit.plugins.code.env:MbppEnv", name="mbpp")
