"""Multi-turn rollouts with token ids: the generation backend samples, EpisodeSessions answer.

Episodes run concurrently. Every environment coroutine (start, step, tools, scoring, close) runs on an event
loop thread while this thread generates: as soon as a batch of replies is sampled, each reply is handed to
its session and the episodes whose answers are already back are generated for next, so one episode's slow
tool overlaps other episodes' generation. With `overlap` off, turns advance in lockstep (every answer is
awaited before the next batch), which makes the batches, and so the draws, reproducible.

Each episode yields one training sample, or several where the chat template is not append-only (see
render.py) or per-turn credit asks for one sample per turn. A sample holds the prompt ids and, after them,
the sampled ids (loss mask 1, with the generator's log-probs) interleaved with environment ids (mask 0).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.episodes import EpisodeResult, EpisodeSession, ReplyParser, Turn
from rewardkit.runtime import HostLoop
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.generation.base import GenerationBackend, SamplingSpec
from rewardkit.types import Message


@dataclass
class Segment:
    """One training sample of an episode."""

    episode: int
    turn: int  # the episode's turn its first reply belongs to
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)  # 1: sampled by the policy; 0: the environment's
    logprobs: list[float] = field(default_factory=list)  # the generator's (0.0 on environment tokens)
    truncated: bool = False

    def add(self, ids: Sequence[int], sampled: bool, logprobs: Sequence[float] | None = None) -> None:
        self.completion_ids += list(ids)
        self.mask += [int(sampled)] * len(ids)
        self.logprobs += list(logprobs) if logprobs is not None else [0.0] * len(ids)


@dataclass
class EpisodeRollouts:
    segments: list[Segment]
    outcomes: list[EpisodeResult]
    generate_seconds: float  # this thread generating
    wait_seconds: float  # this thread with nothing to generate, waiting for environments
    generate_calls: int
    splits: int  # samples started because the template was not append-only


@dataclass
class _Episode:
    index: int
    session: EpisodeSession
    prompt: list[Message] = field(default_factory=list)
    context: list[int] = field(default_factory=list)  # every id the model has seen, in order
    segment: Segment | None = None
    last_reply: list[int] = field(default_factory=list)
    completion_tokens: int = 0  # sampled + environment tokens after the prompt


@dataclass(frozen=True)
class DriverOptions:
    max_tokens: int  # per episode: sampled + environment tokens after the prompt
    max_context: int  # prompt + everything after it
    overlap: bool = True
    sample_per_turn: bool = False


class EpisodeDriver:
    def __init__(
        self,
        backend: GenerationBackend,
        tokenizer: Any,
        renderer: TurnRenderer,
        parser: ReplyParser,
        options: DriverOptions,
        loop: HostLoop,
    ) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.renderer = renderer
        self.parser = parser
        self.options = options
        self.loop = loop

    def run(self, sessions: Sequence[EpisodeSession], spec: SamplingSpec, seed: int) -> EpisodeRollouts:
        episodes = [_Episode(i, session) for i, session in enumerate(sessions)]
        begun = [self.loop.submit(e.session.begin()) for e in episodes]
        segments: list[Segment] = []
        for episode, prompt in zip(episodes, begun, strict=True):
            episode.prompt = prompt.result()
            tools = episode.session.tool_schemas
            segments.append(self._open_segment(episode, self.renderer.prompt_ids(episode.prompt, tools)))
        ready = [e for e in episodes if not e.session.done]
        pending: dict[concurrent.futures.Future[Turn], _Episode] = {}
        generate_seconds = wait_seconds = 0.0
        calls = splits = 0
        while ready or pending:
            if ready:
                begin = time.perf_counter()
                self._generate(ready, spec, seed + calls, pending)
                generate_seconds += time.perf_counter() - begin
                calls += 1
                ready = []
            begin = time.perf_counter()
            done, _ = concurrent.futures.wait(list(pending), return_when=self._when)
            wait_seconds += time.perf_counter() - begin
            for future in sorted(done, key=lambda f: pending[f].index):  # a fixed order: reproducible batches
                episode = pending.pop(future)
                turn = future.result()
                if turn.done:
                    continue
                previous = episode.segment
                splits += self._continue(episode, turn.messages)
                if episode.segment is not previous and episode.segment is not None:
                    segments.append(episode.segment)
                if not episode.session.done:
                    ready.append(episode)
        finished = [self.loop.submit(e.session.finish()) for e in episodes]
        outcomes = [future.result() for future in finished]
        return EpisodeRollouts(segments, outcomes, generate_seconds, wait_seconds, calls, splits)

    @property
    def _when(self) -> str:
        futures = concurrent.futures
        return futures.FIRST_COMPLETED if self.options.overlap else futures.ALL_COMPLETED

    # -- one batch of replies ---------------------------------------------------------------------
    def _generate(
        self,
        ready: list[_Episode],
        spec: SamplingSpec,
        seed: int,
        pending: dict[concurrent.futures.Future[Turn], _Episode],
    ) -> None:
        out = self.backend.generate([e.context for e in ready], 1, spec, seed)
        for episode, sampled, sampled_logprobs, truncated in zip(
            ready, out.token_ids, out.logprobs, out.truncated, strict=True
        ):
            room = self.options.max_tokens - episode.completion_tokens
            over_budget = len(sampled) > room
            ids, logprobs = sampled[:room], sampled_logprobs[:room]
            assert episode.segment is not None
            episode.segment.add(ids, True, logprobs)
            episode.segment.truncated = truncated or over_budget
            episode.context += ids
            episode.completion_tokens += len(ids)
            episode.last_reply = list(ids)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            prefix = self.tokenizer.decode(episode.context[-len(ids) - 16 : -len(ids) or None])
            parsed = self.parser.parse(text, prefix=prefix, tools=episode.session.tool_schemas)
            coroutine = episode.session.respond(
                parsed.message,
                truncated=truncated and not over_budget,
                malformed=parsed.error,
                end="budget" if over_budget else None,
            )
            pending[self.loop.submit(coroutine)] = episode

    # -- between turns ----------------------------------------------------------------------------
    def _continue(self, episode: _Episode, new: list[Message]) -> bool:
        """Present the environment's messages; True when a sample started because the template broke the
        exact continuation."""
        session, tools = episode.session, episode.session.tool_schemas
        conversation = [*episode.prompt, *session.messages]
        history = conversation[: len(conversation) - len(new)]
        bridge = self.renderer.bridge(history, new, episode.last_reply, tools)
        split = bridge is None
        if bridge is None:
            context = self.renderer.prompt_ids(conversation, tools)
            added = max(0, len(context) - len(episode.context))
        else:
            context = episode.context + bridge
            added = len(bridge)
        if (
            episode.completion_tokens + added >= self.options.max_tokens
            or len(context) >= self.options.max_context
        ):
            session.stop("budget")  # no coroutine of this session is running: its turn is answered
            return False
        episode.completion_tokens += added
        if split or self.options.sample_per_turn:
            self._open_segment(episode, context)
        else:
            assert episode.segment is not None
            episode.segment.add(bridge or [], False)
            episode.context = context
        return split

    def _open_segment(self, episode: _Episode, prompt_ids: list[int]) -> Segment:
        episode.context = list(prompt_ids)
        episode.segment = Segment(episode.index, episode.session.turns, list(prompt_ids))
        return episode.segment
