"""Running episodes at the message level: a policy (an API model, a scripted list of replies, a human)
answers with messages or text, the session applies the host's rules.

The trainer drives sessions with token ids instead (rewardkit.trainer.episodes); everything else uses this.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rewardkit.environment import Environment
from rewardkit.episodes.contract import Policy, PolicyOutput, Reply
from rewardkit.episodes.parsing import ReplyParser
from rewardkit.episodes.session import EpisodeResult, EpisodeSession, resolve_tools
from rewardkit.rubric import Rubric
from rewardkit.types import Message, Sample


async def run_episode(
    env: Environment,
    sample: Sample,
    policy: Policy,
    *,
    parser: ReplyParser | None = None,
    rubric: Rubric | None = None,
    max_turns: int | None = None,
    host: Any = None,
) -> EpisodeResult:
    """Play one episode of `env` on `sample` with `policy`; never raises for environment failures."""
    session = EpisodeSession(env, sample, resolve_tools(env, sample, host), rubric, max_turns=max_turns)
    try:
        conversation = await session.begin()
        while not session.done:
            output = policy(conversation + session.messages, session.tool_schemas)
            if inspect.isawaitable(output):
                output = await output
            message, malformed, truncated = _as_message(output, parser)
            await session.respond(message, truncated=truncated, malformed=malformed)
    except BaseException:
        await session.abort()  # the policy failed (or we were cancelled): the episode is still closed
        raise
    return await session.finish()


@contextlib.asynccontextmanager
async def prepared(env: Environment) -> AsyncIterator[Environment]:
    """`env` with its `setup` done and `teardown` guaranteed, for a batch of episodes."""
    await env.setup()
    try:
        yield env
    finally:
        await env.teardown()


async def run_episodes(
    env: Environment,
    samples: Sequence[Sample],
    policy: Policy,
    *,
    concurrency: int = 64,
    **options: Any,
) -> list[EpisodeResult]:
    """Many episodes at once (at most `concurrency` in flight); results in sample order."""
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(sample: Sample) -> EpisodeResult:
        async with limit:
            return await run_episode(env, sample, policy, **options)

    return list(await asyncio.gather(*(one(sample) for sample in samples)))


def scripted(replies: Sequence[PolicyOutput]) -> Policy:
    """A policy that answers with `replies` in order: reply k at the k-th assistant turn (stateless, so one
    scripted policy may play many episodes at once). Past the end it repeats the last reply."""
    if not replies:
        raise ValueError("scripted() needs at least one reply")

    def policy(messages: list[Message], tools: list[dict[str, Any]]) -> PolicyOutput:
        turn = sum(message["role"] == "assistant" for message in messages)
        return replies[min(turn, len(replies) - 1)]

    return policy


def _as_message(output: Any, parser: ReplyParser | None) -> tuple[Message, str | None, bool]:
    truncated = False
    if isinstance(output, Reply):
        output, truncated = output.message, output.truncated
    if isinstance(output, str):
        parsed = (parser or ReplyParser()).parse(output)
        return parsed.message, parsed.error, truncated
    if isinstance(output, dict) and output.get("role") == "assistant":
        return output, None, truncated  # type: ignore[return-value]
    raise TypeError(f"a policy must return an assistant Message, a str or a Reply, got {output!r}")
