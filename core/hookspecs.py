"""Hook specifications. Plugins implement these with `@rewardkit.hookimpl`.

Each hook receives a host-owned callback, so the host validates what a plugin hands over, detects name
clashes and records which distribution supplied what.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "rewardkit"
PLUGIN_API_VERSION = 1
"""Bumped on breaking changes of these hooks. Plugins may declare `REWARDKIT_PLUGIN_API = 1`."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_environments(register: Any) -> None:
    """Call `register(EnvClass, aliases=(...))` for each Environment subclass the plugin provides.

    Or register it by import path, `register("package.module:EnvClass", name="env-name", aliases=(...))`:
    the class is imported on first use (keep loading the plugin cheap), and its `name` must equal `name`.
    """


@hookspec
def register_rewards(register: Any) -> None:
    """Call `register("plugin.reward", fn, reward_range=(0.0, 1.0), description="")` for reusable rewards.

    `fn` may be an import path, "package.module:function", imported on first use; the description then
    defaults to the first line of its docstring when asked.

    `fn(sample, completion, **params)` returns a float, None (does not apply) or a RewardResult; it may be
    async. Registered rewards can be named in any environment's rubric. A reward taking `**params` may
    expose `fn.validate_params(params)` (raising ValueError) so bad params fail when the rubric is built.
    """


@hookspec
def register_tools(register: Any) -> None:
    """Call `register("plugin.tool", fn, timeout=30.0)` for tools any episode environment may name.

    `fn` is a typed function (sync or async) whose docstring describes it and its arguments; a parameter
    named `state` receives the episode's state and is hidden from the model. The model sees the tool under
    its registered name. `fn` may be an import path, "package.module:function", imported and built on
    first use.
    """


@hookspec
def register_sandboxes(register: Any) -> None:
    """Call `register("name", SandboxClass)` for each code-execution backend the plugin provides."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the `rewardkit` click group `cli`."""
