"""Plain data that crosses every boundary: prompts, samples and reward outcomes."""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from typing_extensions import NotRequired

Role = Literal["system", "user", "assistant", "tool"]


class ToolCallFunction(TypedDict):
    name: str
    arguments: str | dict[str, Any]  # OpenAI sends a JSON string; chat templates take either


class ToolCall(TypedDict):
    """One call of a tool by the model, in the OpenAI shape chat templates render."""

    id: NotRequired[str]
    type: NotRequired[Literal["function"]]
    function: ToolCallFunction


class Message(TypedDict):
    """One chat message, in the shape chat templates and OpenAI-style APIs expect."""

    role: Role
    content: str
    tool_calls: NotRequired[list[ToolCall]]  # assistant messages that call tools
    tool_call_id: NotRequired[str]  # tool messages: the call they answer
    name: NotRequired[str]  # tool messages: the tool that answered


def system(content: str) -> Message:
    return {"role": "system", "content": content}


def user(content: str) -> Message:
    return {"role": "user", "content": content}


def assistant(content: str) -> Message:
    return {"role": "assistant", "content": content}


@dataclass(frozen=True)
class Sample:
    """One prompt of an environment. `answer` is ground truth and is never shown to the model."""

    id: str
    prompt: list[Message]
    answer: Any = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "prompt": list(self.prompt), "answer": self.answer, "info": dict(self.info)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Sample:
        prompt = row.get("prompt") or []
        if isinstance(prompt, str):
            prompt = [user(prompt)]
        return cls(
            id=str(row["id"]), prompt=list(prompt), answer=row.get("answer"), info=row.get("info") or {}
        )


StopReason = Literal["done", "max_turns", "length", "budget", "malformed_tool_call", "timeout", "env_error"]
"""Why a rollout ended. done: the model finished (or the environment ended the episode); length: the
completion hit its token limit; budget: the episode's token or context budget ran out; max_turns: the
episode's turn limit; malformed_tool_call: a tool call could not be parsed and the environment ends the
episode on those; timeout and env_error: the episode's deadline or an environment failure (infrastructure,
excluded from group statistics like a reward error)."""

STOP_REASONS: tuple[StopReason, ...] = typing.get_args(StopReason)


@dataclass(frozen=True)
class Trajectory:
    """What followed the prompt: the assistant's replies and the environment's answers, in order.

    A single-turn rollout is a one-message trajectory (`Trajectory.single(completion)`). `turn_rewards`
    holds one entry per assistant message where the environment gave a per-turn reward (None elsewhere);
    it is empty when none did. `tools` are the JSON schemas of the tools the model was offered (what a
    chat template renders with the prompt; SFT data made from the trajectory needs them).
    """

    messages: list[Message]
    stop_reason: StopReason = "done"
    turn_rewards: tuple[float | None, ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def single(cls, completion: str, stop_reason: StopReason = "done") -> Trajectory:
        return cls([assistant(completion)], stop_reason)

    @property
    def completion(self) -> str:
        """The last assistant message's text: what a single-turn reward reads."""
        for message in reversed(self.messages):
            if message["role"] == "assistant":
                return message["content"]
        return ""

    @property
    def turns(self) -> int:
        return sum(message["role"] == "assistant" for message in self.messages)

    def to_dict(self) -> dict[str, Any]:
        row = {
            "messages": [dict(message) for message in self.messages],
            "stop_reason": self.stop_reason,
            "turn_rewards": list(self.turn_rewards),
            "info": json_safe(dict(self.info)),
        }
        if self.tools:
            row["tools"] = json_safe(list(self.tools))
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Trajectory:
        stop = row.get("stop_reason", "done")
        if stop not in STOP_REASONS:
            raise ValueError(f"unknown stop_reason {stop!r}; expected one of {', '.join(STOP_REASONS)}")
        return cls(
            messages=[typing.cast(Message, dict(m)) for m in row.get("messages") or []],
            stop_reason=stop,
            turn_rewards=tuple(row.get("turn_rewards") or ()),
            info=dict(row.get("info") or {}),
            tools=tuple(row.get("tools") or ()),
        )


ErrorKind = Literal["exception", "timeout", "invalid_score", "infrastructure"]


@dataclass(frozen=True)
class RewardResult:
    """The outcome of scoring one completion.

    score=float: a verdict (a wrong or unparseable answer is 0.0, never None).
    score=None, error=None: the reward does not apply to this sample; excluded from advantages.
    score=None, error="...": an infrastructure failure, not the model's fault; counted by the host.
    """

    score: float | None
    components: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def skipped(self) -> bool:
        return self.score is None and self.error is None

    @classmethod
    def failure(cls, error: str, kind: ErrorKind = "infrastructure", **info: Any) -> RewardResult:
        return cls(score=None, error=error, info={"error_kind": kind, **info})

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "components": {k: _json_number(v) for k, v in self.components.items()},
            "error": self.error,
            "info": json_safe(dict(self.info)),
        }

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> RewardResult:
        components = {k: float(v) for k, v in (row.get("components") or {}).items() if v is not None}
        score = row.get("score")
        return cls(
            score=None if score is None else float(score),
            components=components,
            error=row.get("error"),
            info=dict(row.get("info") or {}),
        )


def _json_number(value: float) -> float | None:
    # JSON has no NaN/inf; a component that is not finite is reported as null.
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """`value` with anything JSON cannot hold made so: non-finite floats become null, tuples and sets
    lists, other objects their `str` (info dicts carry parsed answers, which may be sympy objects)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return str(value)
