"""The one interface every judge backend implements, and the plain data that crosses it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rewardkit.types import Message

FailureKind = Literal["timeout", "unavailable", "rate_limited", "refusal", "bad_response", "http", "input"]


class JudgeBackendError(Exception):
    """A request the backend could not answer. Always an infrastructure outcome, never a 0 score."""

    def __init__(self, kind: FailureKind, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.kind = kind
        self.attempts = attempts


@dataclass(frozen=True)
class JudgeRequest:
    messages: tuple[Message, ...]
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    top_logprobs: int = 0  # 0: no logprobs
    choices: tuple[str, ...] = ()  # non-empty: constrain the verdict to one of these labels
    verdict_key: str | None = "verdict"  # choice mode: the answer is {"<key>": "<label>"}; None: bare label
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def key_fields(self) -> dict[str, Any]:
        """Everything about the request that can change the answer (for the cache key)."""
        return {
            **asdict(self),
            "messages": [dict(m) for m in self.messages],
            "extra_body": dict(self.extra_body),
        }


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeReply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: tuple[TokenLogprob, ...] = ()
    choice_logprobs: Mapping[str, float] = field(default_factory=dict)  # label -> log p (choice mode)
    finish_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["logprobs"] = [[t.token, t.logprob, dict(t.top)] for t in self.logprobs]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JudgeReply:
        tokens = tuple(TokenLogprob(t, lp, top) for t, lp, top in data.get("logprobs", ()))
        return cls(**{**data, "logprobs": tokens, "choice_logprobs": dict(data.get("choice_logprobs", {}))})


Outcome = JudgeReply | JudgeBackendError


class JudgeBackend(ABC):
    """Answers judge requests. Failures are returned per request, so one bad request spoils nothing else."""

    kind: str = "base"

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What identifies the judge model (part of the cache key): kind and model name."""

    @abstractmethod
    async def complete(self, requests: Sequence[JudgeRequest]) -> list[Outcome]:
        """Answer every request; concurrency and batching are the backend's business."""

    async def setup(self) -> None:
        """Connect or load weights; raise here so a broken judge fails before step 0."""

    async def aclose(self) -> None:
        """Release clients and models."""
