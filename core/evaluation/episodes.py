"""Playing episode (multi-turn, tool-using) environments in `rewardkit eval`, with the model being evaluated.

`EpisodeRunner` is the `RolloutRunner` of an episode environment: it drives an `EpisodeSession` (the host's
rules: tools run concurrently under their timeouts, malformed calls answered, turns and time bounded,
`close` always called) with one `chat` call per turn, offering the episode's tool schemas, and returns the
whole trajectory with its outcome. The model's replies come back with their tool calls already read in the
model's own format (a local model's chat template, or the endpoint's tool-call parser).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from rewardkit.episodes import EpisodeSession, is_episodic, resolve_tools
from rewardkit.evaluation.config import EvalConfig
from rewardkit.evaluation.envs import EvalEnv
from rewardkit.evaluation.policy import (
    ChatModel,
    ContextExceeded,
    Reply,
    Rollout,
    RolloutRunner,
    SingleTurn,
    with_system_prompt,
)
from rewardkit.runtime import host_loop
from rewardkit.types import Sample, StopReason, assistant


class EpisodeRunner:
    """One episode of `env` per `run`: the session answers each reply until the episode ends."""

    def __init__(
        self,
        model: ChatModel,
        env: EvalEnv,
        system_prompt: str | None = None,
        max_turns: int | None = None,
        max_tokens: int | None = None,
        host: Any = None,
    ) -> None:
        self.model = model
        self.env = env
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self.max_tokens = max_tokens
        self.host = host

    async def run(self, sample: Sample, seed: int) -> Rollout:
        started = time.perf_counter()
        env = self.env
        session = EpisodeSession(
            env.env,
            sample,
            resolve_tools(env.env, sample, self.host),
            max_turns=self.max_turns,
            scorer=env.scorer,  # its rubric and deadline; under the Ray executor, scored by its actors
        )
        budget = _Budget(self.max_tokens)
        host = host_loop()  # the session's coroutines run where the environment was set up
        try:
            prompt = with_system_prompt(await host.call(session.begin()), self.system_prompt)
            while not session.done:
                try:
                    reply = await self.model.chat(
                        prompt + session.messages, turn_seed(seed, session.turns), session.tool_schemas
                    )
                except ContextExceeded:
                    session.stop("budget")
                    break
                await host.call(
                    session.respond(
                        reply.message or assistant(reply.text),
                        truncated=reply.finish == "length",
                        malformed=reply.malformed,
                        end=budget.spend(reply),
                    )
                )
        except BaseException:
            await host.call(session.abort())  # generation failed or the run was stopped: still closed
            raise
        outcome = await host.call(session.finish())
        stats = outcome.stats
        return Rollout(
            outcome.trajectory,
            budget.tokens,
            time.perf_counter() - started,
            result=outcome.result,
            timing={"tools": stats.tool_seconds, "env": stats.env_seconds},
        )


class _Budget:
    """Tokens of an episode after its prompt: what the model wrote, and what the environment added (the
    growth of the prompt between turns, as the model counts it)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.tokens = {"prompt": 0, "completion": 0}
        self._first_prompt: int | None = None

    def spend(self, reply: Reply) -> StopReason | None:
        if self._first_prompt is None:
            self._first_prompt = self.tokens["prompt"] = reply.prompt_tokens
        self.tokens["completion"] += reply.completion_tokens
        used = reply.prompt_tokens - self._first_prompt + reply.completion_tokens
        return "budget" if self.limit is not None and used >= self.limit else None


def turn_seed(seed: int, turn: int) -> int:
    """Each turn of a rollout its own seed, fixed by the rollout's seed (a resumed run redraws the same)."""
    if turn == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{turn}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def make_runner(env: EvalEnv, model: ChatModel, config: EvalConfig, host: Any = None) -> RolloutRunner:
    """The runner an environment needs: an episode for episode environments, one reply otherwise."""
    if is_episodic(env.env):
        options = config.episodes
        return EpisodeRunner(
            model, env, config.system_prompt, options.max_turns, options.max_tokens, host=host
        )
    return SingleTurn(model, config.system_prompt)
