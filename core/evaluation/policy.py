"""The model side of a rollout: something that answers chat messages with one reply.

Every generation source (an OpenAI-compatible endpoint, in-process vLLM, transformers) is a `ChatModel`;
a `RolloutRunner` turns a Sample into a Trajectory by talking to one. Single-turn environments need one
reply (`SingleTurn`); an episode runner for multi-turn environments implements the same `RolloutRunner`
protocol with as many `chat` calls as the episode takes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rewardkit.errors import RewardkitError
from rewardkit.types import Message, Sample, StopReason, Trajectory, system

Finish = Literal["stop", "length"]


class GenerationError(RewardkitError):
    """One reply could not be generated (after retries): recorded as an errored rollout, redone on resume."""


class EndpointError(RewardkitError):
    """The generation source refuses every request (bad key, unknown model): the run stops."""


@dataclass(frozen=True)
class Reply:
    text: str
    finish: Finish  # "length": the reply hit max_tokens
    prompt_tokens: int
    completion_tokens: int


class ChatModel(Protocol):
    async def chat(self, messages: list[Message], seed: int) -> Reply:
        """One reply to `messages`, sampled with the model's sampling settings and this `seed`."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Rollout:
    """What a runner produced for one (sample, rollout index): the trajectory and its costs."""

    trajectory: Trajectory
    tokens: dict[str, int] = field(default_factory=dict)  # "prompt", "completion" (summed over turns)
    seconds: float = 0.0


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
