"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from rewardkit.environment import Environment
from rewardkit.host import get_host
from rewardkit.overrides import apply_overrides

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set an environment config field (repeatable), e.g. --set grading.rel_tol=1e-6 --set seed=3",
)


def build_environment(name: str, overrides: Sequence[str]) -> Environment:
    """Resolve `name` among installed environments and build it with `--set` overrides applied."""
    entry = get_host().environment(name)
    config: dict[str, Any] = apply_overrides({}, overrides)
    return entry.cls(config)
