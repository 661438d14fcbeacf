"""The model side of a rollout: something that answers chat messages with one reply.

Every generation source (an OpenAI-compatible endpoint, in-process vLLM, transformers) is a `ChatModel`;
a `RolloutRunner` turns a Sample into a Trajectory by talking to one. Single-turn environments need one
reply (`SingleTurn`); episode environments are played by `rewardkit.evaluation.episodes.EpisodeRunner`,
with as many `chat` calls as the episode takes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from rewardkit.errors import RewardkitError
from rewardkit.types import Message, RewardResult, Sample, StopReason, Trajectory, system

Finish = Literal["stop", "length"]


class GenerationError(RewardkitError):
    """One reply could not be generated (after retries): recorded as an errored rollout, redone on resume."""


class EndpointError(RewardkitError):
    """The generation source refuses every request (bad key, unknown model): the run stops."""


class ContextExceeded(RewardkitError):
    """The conversation no longer fits the model's context: an episode ends with stop reason `budget`."""


@dataclass(frozen=True)
class Reply:
    text: str
    finish: Finish  # "length": the reply hit max_tokens
    prompt_tokens: int
    completion_tokens: int
    # Where tools were offered: the reply as an assistant message with its tool calls read in the model's
    # format, and why its tool-call markup could not be read (None when it could).
    message: Message | None = None
    malformed: str | None = None


class ChatModel(Protocol):
    async def chat(
        self, messages: list[Message], seed: int, tools: list[dict[str, Any]] | None = None
    ) -> Reply:
        """One reply to `messages`, sampled with the model's sampling settings and this `seed`.

        `tools` (an episode's turn; may be empty): the tool schemas the model is offered, and the reply
        comes back as a `message` with parsed tool calls. None: a plain reply, nothing parsed. Raises
        ContextExceeded when the conversation does not fit the model's context."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Rollout:
    """What a runner produced for one (sample, rollout index): the trajectory and its costs."""

    trajectory: Trajectory
    tokens: dict[str, int] = field(default_factory=dict)  # "prompt", "completion" (summed over turns)
    seconds: float = 0.0
    # The outcome, where the runner scored it (an episode is scored when it ends); None: score it.
    result: RewardResult | None = None
    timing: dict[str, float] = field(default_factory=dict)  # more seconds for the record ("tools", "env")


class RolloutRunner(Protocol):
    async def run(self, sample: Sample, seed: int) -> Rollout: ...


class SingleTurn:
    """One reply to the sample's prompt: a one-message trajectory."""

    def __init__(self, model: ChatModel, system_prompt: str | None = None) -> None:
        self.model = model
        self.system_prompt = system_prompt

    async def run(self, sample: Sample, seed: int) -> Rollout:
        started = time.perf_counter()
        reply = await self.model.chat(with_system_prompt(sample.prompt, self.system_prompt), seed)
        stop: StopReason = "length" if reply.finish == "length" else "done"
        return Rollout(
            Trajectory.single(reply.text, stop),
            {"prompt": reply.prompt_tokens, "completion": reply.completion_tokens},
            time.perf_counter() - started,
        )


def with_system_prompt(messages: list[Message], prompt: str | None) -> list[Message]:
    """`messages` with their system message replaced by `prompt` (or `prompt` first); unchanged if None."""
    if prompt is None:
        return list(messages)
    return [system(prompt), *(m for m in messages if m["role"] != "system")]
