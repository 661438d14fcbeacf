"""The host side of one episode: the rules every driver (trainer, eval, scripted policy) gets for free.

An `EpisodeSession` isolates per-episode state, runs tool calls concurrently under their timeouts, answers a
malformed call with an error message (or ends the episode, per the environment), bounds turns and the time of
every environment call, records the trajectory with typed stop reasons and per-turn rewards, scores the
outcome with the host's validation, and always calls `close`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from rewardkit.environment import Environment
from rewardkit.episodes.contract import EpisodeEnvironment, Step
from rewardkit.episodes.tools import Tool, ToolCallError, ToolInfrastructureError, make_tool
from rewardkit.outcome import normalize
from rewardkit.rubric import Rubric, combine, invoke
from rewardkit.runtime import host_loop
from rewardkit.scoring import DEFAULT_TIMEOUT
from rewardkit.types import Message, RewardResult, Sample, StopReason, ToolCall, Trajectory, user

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Stop reasons that are infrastructure, not the model: no outcome, excluded from group statistics.
INFRASTRUCTURE_STOPS: frozenset[StopReason] = frozenset({"timeout", "env_error"})


class TrajectoryScorer(Protocol):
    """Where a finished episode is scored: a Scorer in this process, or a RayScorer's actors."""

    async def score_trajectories(
        self, samples: Sequence[Sample], trajectories: Sequence[Trajectory]
    ) -> list[RewardResult]: ...


@dataclass
class EpisodeStats:
    """What happened inside one episode, for metrics."""

    tool_calls: int = 0
    tool_errors: int = 0  # calls answered with an error (malformed ones included)
    malformed: int = 0
    tool_seconds: float = 0.0  # wall time of tool batches
    env_seconds: float = 0.0  # wall time of start / step / close


@dataclass(frozen=True)
class EpisodeResult:
    trajectory: Trajectory
    result: RewardResult
    stats: EpisodeStats


@dataclass(frozen=True)
class Turn:
    """The host's answer to one reply: messages for the model, or the end of the episode."""

    messages: list[Message]
    done: bool


@dataclass
class _Record:
    messages: list[Message] = field(default_factory=list)
    turn_rewards: list[float | None] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class EpisodeSession:
    """One episode of `env` on `sample`. Call `begin`, then `respond` per reply until `done`, then `finish`.

    A plain (single-turn) Environment is accepted: its episode ends after the first reply.
    """

    def __init__(
        self,
        env: Environment,
        sample: Sample,
        tools: Mapping[str, Tool] | None = None,
        rubric: Rubric | None = None,
        score_timeout: float | None = None,
        max_turns: int | None = None,
        scorer: TrajectoryScorer | None = None,
    ) -> None:
        """`scorer` scores the outcome (with its own rubric and deadline); without one it is scored here,
        with `rubric` and `score_timeout`."""
        self.env = env
        self.sample = sample
        self.episodic = isinstance(env, EpisodeEnvironment)
        self.tools: dict[str, Tool] = dict(tools or {})
        self.rubric = rubric
        self.scorer = scorer
        metadata = env.metadata()
        self.score_timeout = float(score_timeout or metadata.score_timeout or DEFAULT_TIMEOUT)
        env_turns = env.max_turns if isinstance(env, EpisodeEnvironment) else 1
        self.max_turns = min(env_turns, max_turns) if max_turns else env_turns
        self.stats = EpisodeStats()
        self.stop_reason: StopReason | None = None
        self.error: str | None = None
        self._state: Any = None
        self._started = False
        self._record = _Record()

    # -- the conversation ----------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def messages(self) -> list[Message]:
        """Everything after the prompt so far."""
        return list(self._record.messages)

    @property
    def tool_schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    @property
    def turns(self) -> int:
        return len(self._record.turn_rewards)

    async def begin(self) -> list[Message]:
        """Start the episode; returns the prompt messages."""
        if isinstance(self.env, EpisodeEnvironment):
            started = await self._env_call("start", self.env.start(self.sample))
            if started is not _FAILED:
                self._state = started
                self._started = True
        return list(self.sample.prompt)

    async def respond(
        self,
        reply: Message,
        *,
        truncated: bool = False,
        malformed: str | None = None,
        end: StopReason | None = None,
    ) -> Turn:
        """Record the model's reply and answer it. `truncated`: the reply hit its token limit (the episode
        ends: stop_reason length). `malformed`: the reply's tool calls could not be parsed (why). `end`: the
        driver ends the episode with this reason after recording the reply (e.g. its token budget ran out)."""
        if self.done:
            raise RuntimeError("respond() after the episode ended")
        self._record.messages.append(reply)
        self._record.turn_rewards.append(None)
        if end is not None:
            return self.stop(end)
        if truncated:
            return self.stop("length")
        if not self.episodic:
            return self.stop("done")
        results = await self._answer_tool_calls(reply, malformed)
        if self.done:
            return Turn([], True)
        assert isinstance(self.env, EpisodeEnvironment)
        step = await self._env_call("step", self.env.step(self._state, reply, results))
        if step is _FAILED:
            return Turn([], True)
        return self._apply(step, results)

    def stop(self, reason: StopReason) -> Turn:
        """End the episode for a reason the driver saw (length, budget); the first reason given wins."""
        if self.stop_reason is None:
            self.stop_reason = reason
        return Turn([], True)

    def _apply(self, step: Any, results: list[Message]) -> Turn:
        if not isinstance(step, Step):
            return self._fail("env_error", f"step returned {type(step).__name__}, expected rewardkit.Step")
        if step.reward is not None:
            self._record.turn_rewards[-1] = float(step.reward)
        self._record.info.update(step.info)
        messages = [_checked_message(m) for m in step.messages]
        if any(m is None for m in messages):
            return self._fail("env_error", "step returned a message without a string role and content")
        new = [m for m in messages if m is not None]
        self._record.messages.extend(new)
        if step.done:
            return self.stop("done")
        if not new:
            return self._fail(
                "env_error", "step returned no messages and done=False; end the episode instead"
            )
        if self.turns >= self.max_turns:
            return self.stop("max_turns")
        return Turn(new, False)

    # -- tools ---------------------------------------------------------------------------------------
    async def _answer_tool_calls(self, reply: Message, malformed: str | None) -> list[Message]:
        assert isinstance(self.env, EpisodeEnvironment)
        calls = list(reply.get("tool_calls") or [])
        if malformed is not None:
            self.stats.malformed += 1
            self.stats.tool_errors += 1
            if self.env.malformed_tool_calls == "end":
                self.stop("malformed_tool_call")
                return []
            return [user(f"error: {malformed}. Write tool calls in the format the tools section shows.")]
        if not calls:
            return []
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(self._call_tool(call) for call in calls), return_exceptions=True)
        self.stats.tool_seconds += time.perf_counter() - started
        self.stats.tool_calls += len(calls)
        results: list[Message] = []
        for call, outcome in zip(calls, outcomes, strict=True):
            if isinstance(outcome, ToolInfrastructureError):
                self._fail("env_error", f"tool {_call_name(call)} failed: {outcome}")
                return []
            if isinstance(outcome, BaseException) and not isinstance(outcome, ToolCallError):
                raise outcome
            if isinstance(outcome, ToolCallError):
                self.stats.tool_errors += 1
                if outcome.malformed:
                    self.stats.malformed += 1
                    if self.env.malformed_tool_calls == "end":
                        self.stop("malformed_tool_call")
                        return []
                content = f"error: {outcome}"
            else:
                content = outcome
            results.append(_tool_message(call, content[: self.env.tool_output_limit]))
        return results

    async def _call_tool(self, call: ToolCall) -> str:
        name = _call_name(call)
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            raise ToolCallError(f"unknown tool {name!r}; available tools: {known}")
        function = call.get("function") or {}
        return await tool.call(function.get("arguments"), self._state)

    # -- the end -------------------------------------------------------------------------------------
    async def finish(self) -> EpisodeResult:
        """Score the outcome (unless the episode failed) and close the episode; never raises."""
        if self.stop_reason is None:
            self.stop_reason = "max_turns" if self.turns >= self.max_turns else "done"
        trajectory = self.trajectory()
        try:
            if self.stop_reason in INFRASTRUCTURE_STOPS:
                kind = "timeout" if self.stop_reason == "timeout" else "infrastructure"
                result = RewardResult.failure(self.error or self.stop_reason, kind=kind)  # type: ignore[arg-type]
            else:
                result = await self._score(trajectory)
        finally:
            await self._close()
        return EpisodeResult(trajectory, result, self.stats)

    async def abort(self) -> None:
        """Close the episode without scoring it (the driver failed or was cancelled)."""
        await asyncio.shield(self._close())

    def trajectory(self) -> Trajectory:
        record = self._record
        rewards = tuple(record.turn_rewards) if any(r is not None for r in record.turn_rewards) else ()
        return Trajectory(
            list(record.messages),
            self.stop_reason or "done",
            rewards,
            dict(record.info),
            tuple(self.tool_schemas),
        )

    async def _score(self, trajectory: Trajectory) -> RewardResult:
        if self.scorer is not None:
            (result,) = await self.scorer.score_trajectories([self.sample], [trajectory])
            return result
        return await score_trajectory(self.env, self.sample, trajectory, self.rubric, self.score_timeout)

    async def _close(self) -> None:
        if not self._started or not isinstance(self.env, EpisodeEnvironment):
            return
        self._started = False
        await self._env_call("close", self.env.close(self._state), record=False)

    # -- calling the environment under the host's rules ----------------------------------------------
    async def _env_call(self, what: str, call: Awaitable[T], record: bool = True) -> T | Any:
        """`call` under the step timeout; a failure ends the episode (timeout / env_error) and returns
        _FAILED. A failing `close` (record=False) is only logged: the outcome stands."""
        assert isinstance(self.env, EpisodeEnvironment)
        started = time.perf_counter()
        reason: StopReason = "env_error"
        try:
            return await asyncio.wait_for(call, self.env.step_timeout)
        except asyncio.TimeoutError:
            reason, message = "timeout", f"{self.env.name}.{what} timed out after {self.env.step_timeout:g}s"
        except ToolInfrastructureError as error:
            message = f"{self.env.name}.{what}: {error}"
        except Exception as error:
            message = f"{self.env.name}.{what} raised {type(error).__name__}: {error}"
        finally:
            self.stats.env_seconds += time.perf_counter() - started
        if record:
            self._fail(reason, message)
        else:
            logger.warning("%s", message)
        return _FAILED

    def _fail(self, reason: StopReason, message: str) -> Turn:
        if self.stop_reason is None or self.stop_reason not in INFRASTRUCTURE_STOPS:
            self.stop_reason = reason
            self.error = message
        return Turn([], True)


_FAILED: Any = object()


async def score_trajectory(
    env: Environment,
    sample: Sample,
    trajectory: Trajectory,
    rubric: Rubric | None = None,
    score_timeout: float | None = None,
) -> RewardResult:
    """The outcome of a finished trajectory under the host's rules (score timeout, range check, rubric):
    what an episode's `finish` scores, and what `rewardkit rescore` and `serve` score from a stored one.
    It runs on the host's scoring loop, where the environment was set up, whichever loop awaits it."""
    return await host_loop().call(_score_trajectory(env, sample, trajectory, rubric, score_timeout))


async def _score_trajectory(
    env: Environment,
    sample: Sample,
    trajectory: Trajectory,
    rubric: Rubric | None,
    score_timeout: float | None,
) -> RewardResult:
    metadata = env.metadata()
    timeout = float(score_timeout or metadata.score_timeout or DEFAULT_TIMEOUT)
    if rubric is None:
        scorer, reward_range = _env_scorer(env), metadata.reward_range
        return await _score_one(env.name, scorer, sample, trajectory, timeout, reward_range)
    # Rubric items other than the environment's own score the final completion, as single-turn ones do.
    results = await asyncio.gather(
        *(
            _score_one(
                item.name,
                _env_scorer(env) if item.fn == env.score else _completion_scorer(item.fn, item.params),
                sample,
                trajectory,
                timeout,
                item.reward_range,
            )
            for item in rubric.items
        )
    )
    return combine(rubric.items, results)


async def _score_one(
    source: str,
    scorer: Any,
    sample: Sample,
    trajectory: Trajectory,
    timeout: float,
    reward_range: tuple[float, float],
) -> RewardResult:
    try:
        raw = await asyncio.wait_for(scorer(sample, trajectory), timeout)
    except asyncio.TimeoutError:
        return RewardResult.failure(f"{source} timed out after {timeout:g}s", kind="timeout")
    except Exception as error:  # a plugin bug is reported as an outcome, never raised into the driver
        return RewardResult.failure(f"{source} raised {type(error).__name__}: {error}", kind="exception")
    return normalize(raw, source, reward_range)


def _env_scorer(env: Environment) -> Any:
    if isinstance(env, EpisodeEnvironment):
        return env.score_trajectory

    async def single(sample: Sample, trajectory: Trajectory) -> Any:
        return await env.score(sample, trajectory.completion)

    return single


def _completion_scorer(fn: Any, params: Mapping[str, Any]) -> Any:
    async def on_completion(sample: Sample, trajectory: Trajectory) -> Any:
        return await invoke(fn, sample, trajectory.completion, **params)

    return on_completion


def resolve_tools(env: Environment, sample: Sample, host: Any = None) -> dict[str, Tool]:
    """The episode's tools by name: Tool objects and functions as given, strings looked up in the host."""
    if not isinstance(env, EpisodeEnvironment):
        return {}
    resolved: dict[str, Tool] = {}
    for entry in env.tools(sample):
        if isinstance(entry, str):
            from rewardkit.host import get_host

            found = (host or get_host()).tool(entry)
        else:
            found = make_tool(entry)
        if found.name in resolved:
            raise ValueError(f"{env.name}: two tools are named {found.name!r}")
        resolved[found.name] = found
    return resolved


def _checked_message(message: Any) -> Message | None:
    if not isinstance(message, Mapping):
        return None
    if not isinstance(message.get("role"), str) or not isinstance(message.get("content"), str):
        return None
    return dict(message)  # type: ignore[return-value]


def _call_name(call: Any) -> str:
    function = call.get("function") if isinstance(call, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    return name if isinstance(name, str) else "?"


def _tool_message(call: ToolCall, content: str) -> Message:
    message: Message = {"role": "tool", "content": content, "name": _call_name(call)}
    if call.get("id"):
        message["tool_call_id"] = call["id"]
    return message


def tool_message_for(calls: Sequence[ToolCall], contents: Sequence[str]) -> list[Message]:
    return [_tool_message(call, content) for call, content in zip(calls, contents, strict=True)]
