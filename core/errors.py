"""Exceptions the host raises. Each message says what happened, where, and what to do."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError


class RewardkitError(Exception):
    """Base class of every error rewardkit raises on purpose."""


class ConfigError(RewardkitError, ValueError):
    """A configuration value is invalid; the message names the field path."""


class PluginError(RewardkitError):
    """A plugin failed to load or registered something invalid."""


class UnknownNameError(RewardkitError, KeyError):
    """A name (environment, reward, sandbox) is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "(none installed)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}.")
        self.kind, self.name, self.known = kind, name, known

    def __str__(self) -> str:
        return str(self.args[0])


def config_error(error: ValidationError, model: type[BaseModel], root: str = "") -> ConfigError:
    """Turn a pydantic error into one line per problem: `root.path.field: what is wrong; how to fix it`."""
    lines = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        path = ".".join(str(part) for part in ((root,) if root else ()) + loc) or "<root>"
        lines.append(f"{path}: {_explain(problem, _fields_at(model, loc[:-1]))}")
    return ConfigError("\n".join(lines))


def _explain(problem: Any, fields: list[str]) -> str:
    kind = problem["type"]
    if kind == "extra_forbidden":
        name = str(problem["loc"][-1])
        close = difflib.get_close_matches(name, fields, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown field; {hint}valid fields here: {', '.join(fields) or '(none)'}"
    if kind == "missing":
        return "required field is missing; set it in the config or with key=value"
    shown = repr(problem.get("input"))
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{problem['msg']} (got {shown}); fix the value"


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found by walking `loc` from `model` (best effort, for hints)."""
    current = model
    for part in loc:
        current = _model_in(current)
        if current is None:
            return []
        if isinstance(part, str) and part in current.model_fields:
            current = current.model_fields[part].annotation
    current = _model_in(current)
    return sorted(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
