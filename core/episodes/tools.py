"""Tools: typed Python functions (sync or async) the model may call during an episode.

A tool's JSON schema comes from its type hints and docstring (pydantic builds it; the docstring's Args
section gives each parameter's description), and every call's arguments are validated against the same
model before the function runs. A parameter named `state` is not shown to the model: the host passes the
episode's state there, so a tool can read or change it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from rewardkit.errors import RewardkitError
from rewardkit.types import json_safe

STATE_PARAMETER = "state"
DEFAULT_TOOL_TIMEOUT = 30.0


class ToolCallError(RewardkitError):
    """A call the model got wrong (unknown tool, arguments that are not JSON or do not fit the schema).

    `malformed` separates a call that cannot be executed at all (the episode may end on those) from a tool
    that ran and failed, whose error is simply the tool's answer.
    """

    def __init__(self, message: str, malformed: bool = True) -> None:
        super().__init__(message)
        self.malformed = malformed


class ToolInfrastructureError(RewardkitError):
    """Raised by a tool when its infrastructure failed (sandbox down, service unreachable): not the model's
    fault, so the episode ends as an `env_error` and is excluded from training statistics."""


@dataclass(frozen=True)
class Tool:
    """A function the model can call, with its schema and the pydantic model that validates arguments."""

    name: str
    fn: Callable[..., Any]
    description: str
    arguments: type[BaseModel]
    timeout: float = DEFAULT_TOOL_TIMEOUT
    takes_state: bool = False
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema that chat templates render (`tools=[...]`)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": dict(self.parameters),
            },
        }

    def validate(self, arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
        """The call's arguments, parsed and validated; a ToolCallError says what the model got wrong."""
        if arguments is None or arguments == "":
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError as error:
                raise ToolCallError(f"arguments of {self.name} are not valid JSON ({error})") from None
        if not isinstance(arguments, Mapping):
            kind = type(arguments).__name__
            raise ToolCallError(f"arguments of {self.name} must be a JSON object, got {kind}")
        try:
            model = self.arguments.model_validate(dict(arguments))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in error.errors()
            )
            raise ToolCallError(f"invalid arguments for {self.name}: {problems}") from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    async def call(self, arguments: Mapping[str, Any] | str | None, state: Any = None) -> str:
        """Validate, run (sync tools in a worker thread) under the tool's timeout, and render the result."""
        kwargs = self.validate(arguments)
        if self.takes_state:
            kwargs[STATE_PARAMETER] = state
        try:
            if inspect.iscoroutinefunction(self.fn):
                result = await asyncio.wait_for(self.fn(**kwargs), self.timeout)
            else:
                result = await asyncio.wait_for(asyncio.to_thread(self.fn, **kwargs), self.timeout)
                if inspect.isawaitable(result):
                    result = await asyncio.wait_for(result, self.timeout)
        except asyncio.TimeoutError:
            raise ToolCallError(f"{self.name} timed out after {self.timeout:g}s", malformed=False) from None
        except (ToolCallError, ToolInfrastructureError):
            raise
        except Exception as error:
            raise ToolCallError(
                f"{self.name} raised {type(error).__name__}: {error}", malformed=False
            ) from None
        return render_result(result)


def render_result(result: Any) -> str:
    """A tool's return value as the text of its tool message."""
    if isinstance(result, str):
        return result
    return json.dumps(json_safe(result), ensure_ascii=False)


def tool(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, timeout: float = DEFAULT_TOOL_TIMEOUT
) -> Any:
    """Make a Tool from a typed function; usable bare (`@tool`) or with options (`@tool(timeout=5)`)."""

    def build(function: Callable[..., Any]) -> Tool:
        return make_tool(function, name=name, timeout=timeout)

    return build(fn) if fn is not None else build


def make_tool(
    fn: Callable[..., Any] | Tool, *, name: str | None = None, timeout: float | None = None
) -> Tool:
    """A Tool from a function (or a Tool, returned as is unless renamed or re-timed)."""
    if isinstance(fn, Tool):
        if name is None and timeout is None:
            return fn
        return Tool(
            name or fn.name,
            fn.fn,
            fn.description,
            fn.arguments,
            fn.timeout if timeout is None else timeout,
            fn.takes_state,
            fn.parameters,
        )
    if not callable(fn):
        raise TypeError(f"a tool must be a function, got {fn!r}")
    tool_name = name or getattr(fn, "__name__", "")
    if not tool_name or not tool_name.replace("_", "a").replace(".", "a").replace("-", "a").isalnum():
        raise ValueError(f"tool name {tool_name!r} must be letters, digits, '_', '-' or '.'")
    summary, described = _docstring(fn)
    arguments, takes_state = _arguments_model(fn, tool_name, described)
    return Tool(
        name=tool_name,
        fn=fn,
        description=summary,
        arguments=arguments,
        timeout=DEFAULT_TOOL_TIMEOUT if timeout is None else float(timeout),
        takes_state=takes_state,
        parameters=_clean_schema(arguments.model_json_schema()),
    )


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    import docstring_parser

    parsed = docstring_parser.parse(inspect.getdoc(fn) or "")
    summary = " ".join(part for part in (parsed.short_description, parsed.long_description) if part)
    return summary, {p.arg_name: p.description or "" for p in parsed.params}


def _arguments_model(
    fn: Callable[..., Any], tool_name: str, described: Mapping[str, str]
) -> tuple[type[BaseModel], bool]:
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    takes_state = False
    for parameter in signature.parameters.values():
        if parameter.name == STATE_PARAMETER:
            takes_state = True
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ValueError(f"tool {tool_name}: *args / **kwargs have no schema; name every parameter")
        if parameter.name not in hints:
            raise ValueError(f"tool {tool_name}: parameter {parameter.name!r} needs a type hint")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (
            hints[parameter.name],
            Field(default, description=described.get(parameter.name) or None),
        )
    model = create_model(
        f"{tool_name.replace('.', '_')}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model, takes_state


def _clean_schema(schema: Any) -> Any:
    """pydantic's schema without its generated titles (noise in a prompt), recursively."""
    if isinstance(schema, dict):
        return {k: _clean_schema(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_clean_schema(item) for item in schema]
    return schema
