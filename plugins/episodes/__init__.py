"""Multi-turn environments and tools (bundled plugin): `math.python` (tool-integrated reasoning in the code
sandbox), `retry` (feedback and retry over any single-turn environment), `textarena` (single-player games),
and the `python` tool any episode environment may name.

This module is the plugin's entry point and stays light: environments and the tool are registered by
import path and imported when first used.
"""

from __future__ import annotations

from typing import Any

import rewardkit

REWARDKIT_PLUGIN_API = 1


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register("rewardkit.plugins.episodes.math_python:MathPython", name="math.python")
    register("rewardkit.plugins.episodes.retry:Retry", name="retry")
    register("rewardkit.plugins.episodes.textarena_env:TextArena", name="textarena")


@rewardkit.hookimpl
def register_tools(register: Any) -> None:
    register("python", "rewardkit.plugins.episodes.python_tool:python", timeout=60.0)
