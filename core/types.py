"""Plain data that crosses every boundary: prompts, samples and reward outcomes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Role = Literal["system", "user", "assistant", "tool"]


class Message(TypedDict):
    """One chat message, in the shape chat templates and OpenAI-style APIs expect."""

    role: Role
    content: str


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
        }


def _json_number(value: float) -> float | None:
    # JSON has no NaN/inf; a component that is not finite is reported as null.
    return value if isinstance(value, int | float) and math.isfinite(value) else None
