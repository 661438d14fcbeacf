"""The episode contract: an environment that talks back.

The environment speaks messages; whoever drives the model (the trainer, `eval`, a scripted policy) owns
tokens. An `EpisodeEnvironment` starts an episode from a Sample with its own state, answers each assistant
message with new messages (or ends the episode), may attach a per-turn reward, always gets `close`, and
scores the outcome from the whole trajectory with the usual score / None / error semantics. A plain
`Environment` is the one-turn case and keeps working unchanged.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from rewardkit.environment import Environment
from rewardkit.episodes.tools import Tool
from rewardkit.types import Message, RewardResult, Sample, Trajectory

MalformedPolicy = Literal["reply", "end"]


@dataclass(frozen=True)
class Step:
    """The environment's answer to one assistant message.

    `messages` go to the model next (tool results, feedback, the game's next state); `done` ends the episode;
    `reward` is a per-turn reward for the assistant message just answered; `info` is merged into the
    trajectory's info (what `score_trajectory` reads, so scoring needs no hidden state).
    """

    messages: Sequence[Message] = ()
    done: bool = False
    reward: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """What a policy returns when it has more to say than the message: that it hit its length limit."""

    message: Message | str
    truncated: bool = False


PolicyOutput = Message | str | Reply
Policy = Callable[[list[Message], list[dict[str, Any]]], PolicyOutput | Awaitable[PolicyOutput]]
"""`policy(messages, tool_schemas)`: the conversation so far (prompt included) -> the next assistant reply.
A string is parsed for tool calls (Hermes `<tool_call>` JSON by default); a Message is taken as is."""


class EpisodeEnvironment(Environment):
    """A multi-turn environment. Subclasses implement `dataset`, `score_trajectory` and usually `step`.

    The default `step` suits tool-using environments: the host runs the reply's tool calls and the episode
    continues while the model calls tools, ending at the first reply without one.
    """

    max_turns: ClassVar[int] = 8  # assistant messages per episode
    step_timeout: ClassVar[float] = 60.0  # seconds for each start / step / close call
    malformed_tool_calls: ClassVar[MalformedPolicy] = "reply"  # or "end": stop_reason malformed_tool_call
    tool_output_limit: ClassVar[int] = 16_384  # characters of one tool result shown to the model

    def tools(self, sample: Sample) -> Sequence[Tool | Callable[..., Any] | str]:
        """The tools offered in this episode: Tool objects, typed functions, or names of registered tools."""
        return ()

    async def start(self, sample: Sample) -> Any:
        """Begin an episode; return its state (anything; never shared between episodes)."""
        return None

    async def step(self, state: Any, reply: Message, tool_results: list[Message]) -> Step:
        """Answer one assistant message. `tool_results` are the host's answers to its tool calls (errors
        included); the default passes them on and ends the episode on a reply without tool calls."""
        return Step(messages=tool_results, done=not tool_results)

    @abstractmethod
    async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
        """The outcome of a whole episode. Wrong is 0.0, "does not apply" None, infrastructure an error."""

    async def close(self, state: Any) -> None:
        """Release what `start` acquired. Always called: after done, max_turns, timeouts and errors."""

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        """A single completion scored as a one-turn episode (`rewardkit score` on a JSONL of completions)."""
        return await self.score_trajectory(sample, Trajectory.single(completion))

    def reference_policy(self, sample: Sample) -> Policy | None:
        """A policy that earns the top of the reward range on `sample` (the contract kit's gold)."""
        return None

    def reference_completion(self, sample: Sample) -> str | None:
        return None  # an episode's gold is a policy, not one completion


def is_episodic(env: Environment) -> bool:
    return isinstance(env, EpisodeEnvironment)
