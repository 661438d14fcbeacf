"""Multi-turn environments and tools (bundled plugin): `math.python` (tool-integrated reasoning in the code
sandbox), `retry` (feedback and retry over any single-turn environment), `textarena` (single-player games),
and the `python` tool any episode environment may name.

This module is the plugin's entry point and stays light: environments import what they need when built.
"""

from __future__ import annotations

from typing import Any

import rewardkit

REWARDKIT_PLUGIN_API = 1


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    from rewardkit.plugins.episodes.math_python import MathPython
    from rewardkit.plugins.episodes.retry import Retry
    from rewardkit.plugins.episodes.textarena_env import TextArena

    register(MathPython)
    register(Retry)
    register(TextArena)


@rewardkit.hookimpl
def register_tools(register: Any) -> None:
    from rewardkit.plugins.episodes.python_tool import python

    register("python", python, timeout=60.0)
