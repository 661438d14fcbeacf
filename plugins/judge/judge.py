"""The judge: template + guard + backend + cache, turning (sample, completion) pairs into RewardResults.

Cost control happens here, in this order: a correctness answer equal to the reference is scored without a
call; identical requests in a batch are sent once; the on-disk cache answers what was judged before;
requests already in flight (from concurrent calls) are awaited rather than sent again.

A Judge lives on one event loop (the host's scoring loop, or the loop of `run_sync`): its backend's client
is made in `setup()` and its in-flight requests and batching belong to that loop.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rewardkit.plugins.judge.backends import (
    JudgeBackend,
    JudgeBackendError,
    JudgeReply,
    JudgeRequest,
    make_backend,
)
from rewardkit.plugins.judge.backends.base import Outcome
from rewardkit.plugins.judge.cache import ReplyCache, cache_key, default_cache_path
from rewardkit.plugins.judge.config import JudgeSettings, OpenAIBackendConfig
from rewardkit.plugins.judge.guard import guard
from rewardkit.plugins.judge.parsing import VerdictError, VerdictParser, weighted_value
from rewardkit.plugins.judge.templates import Template, resolve_template
from rewardkit.types import ErrorKind, RewardResult, Sample

SCORE_DIGITS = 6  # rounding keeps likelihood-weighted scores identical across batch compositions


@dataclass
class JudgeStats:
    judged: int = 0  # completions scored, however answered
    requests: int = 0  # requests handed to the backend (after shortcut, dedup, cache, in-flight sharing)
    cache_hits: int = 0
    deduplicated: int = 0  # identical requests inside one batch, sent once
    shared_in_flight: int = 0  # requests answered by an identical one already in flight
    shortcuts: int = 0  # exact matches with the reference, scored without a call
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Job:
    key: str
    request: JudgeRequest
    info: dict[str, Any]


class Judge:
    def __init__(self, settings: JudgeSettings, backend: JudgeBackend | None = None) -> None:
        self.settings = settings
        self.template: Template = resolve_template(settings)
        self.parser = VerdictParser(self.template.labels, self.template.aliases)
        self.backend = backend or make_backend(settings.backend)
        self.cache = ReplyCache(settings.cache_path or default_cache_path()) if settings.cache else None
        self.stats = JudgeStats()
        self._fingerprint = self.template.fingerprint()
        self._inflight: dict[str, asyncio.Future[Outcome]] = {}
        self._batcher = _Batcher(self, settings.batch_window)
        self._setup: asyncio.Future[None] | None = None

    async def setup(self) -> None:
        """Connect or load the backend once; concurrent first callers share one attempt, and a failed one
        is tried again by the next caller (a judge server may come up later)."""
        if self._setup is None:
            self._setup = asyncio.ensure_future(self.backend.setup())
        attempt = self._setup
        try:
            await attempt
        except Exception:
            if self._setup is attempt:
                self._setup = None
            raise

    async def aclose(self) -> None:
        self._setup = None
        await self.backend.aclose()

    async def __aenter__(self) -> Judge:
        await self.setup()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def run_sync(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Set up, judge one batch and close, in a fresh event loop (scripts, benchmarks, tests)."""

        async def judged() -> list[RewardResult]:
            async with self:
                return await self.score_many(samples, completions)

        return asyncio.run(judged())

    # -- public scoring ----------------------------------------------------------------------------
    async def score(self, sample: Sample, completion: str) -> RewardResult:
        """One completion; concurrent calls within `batch_window` are judged as one batch."""
        if self.settings.batch_window <= 0:
            return (await self.score_many([sample], [completion]))[0]
        return await self._batcher.submit(sample, completion)

    async def score_many(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Judge a whole batch (a GRPO group or more) concurrently."""
        prepared = [self._prepare(s, c) for s, c in zip(samples, completions, strict=True)]
        jobs = {p.key: p.request for p in prepared if isinstance(p, _Job)}
        self.stats.deduplicated += sum(isinstance(p, _Job) for p in prepared) - len(jobs)
        outcomes = await self._outcomes(jobs)
        charged: set[str] = set()
        results = []
        for item in prepared:
            if isinstance(item, RewardResult):
                results.append(item)
                continue
            outcome, source = outcomes[item.key]
            fresh = source == "request" and item.key not in charged
            charged.add(item.key)
            results.append(self._result(item, outcome, source, fresh))
        self.stats.judged += len(results)
        self.stats.errors += sum(r.error is not None for r in results)
        return results

    # -- preparing requests --------------------------------------------------------------------------
    def _prepare(self, sample: Sample, completion: str) -> RewardResult | _Job:
        reference = _reference(sample)
        if self.template.needs_reference and reference is None:
            return RewardResult(score=None, info={"judge": "no reference answer: not applicable"})
        if self._shortcut(completion, reference):
            self.stats.shortcuts += 1
            return RewardResult(score=1.0, info={"judge": "exact match with the reference (no judge call)"})
        guarded = guard(completion, self.settings.max_response_chars)
        messages = self.template.render(_question(sample), reference or "", guarded.text)
        request = self._request(tuple(messages))
        identity = self.backend.identity()
        key = cache_key(
            identity, self._fingerprint, {**request.key_fields(), "verdict": self.settings.verdict}
        )
        info = {"template": self.template.name, "truncated": guarded.truncated}
        return _Job(key, request, info)

    def _request(self, messages: tuple[Any, ...]) -> JudgeRequest:
        sampling, verdict = self.settings.sampling, self.settings.verdict
        remote = isinstance(self.settings.backend, OpenAIBackendConfig)
        wants_logprobs = verdict == "logprobs" or (verdict == "choice" and remote)
        return JudgeRequest(
            messages=messages,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            seed=sampling.seed,
            top_logprobs=sampling.top_logprobs if wants_logprobs else 0,
            choices=tuple(self.template.labels) if verdict == "choice" else (),
            verdict_key=self.template.verdict_key,
            extra_body=dict(sampling.extra_body),
        )

    def _shortcut(self, completion: str, reference: str | None) -> bool:
        return (
            self.settings.exact_match_shortcut
            and self.template.name == "correctness"
            and reference is not None
            and _canonical(completion) == _canonical(reference)
            and bool(_canonical(reference))
        )

    # -- getting replies -----------------------------------------------------------------------------
    async def _outcomes(self, jobs: dict[str, JudgeRequest]) -> dict[str, tuple[Outcome, str]]:
        found: dict[str, tuple[Outcome, str]] = {}
        if self.cache is not None and jobs:
            hits = await asyncio.to_thread(self.cache.get_many, jobs)
            found.update((key, (reply, "cache")) for key, reply in hits.items())
            self.stats.cache_hits += len(hits)
        inflight = self._inflight
        shared = {key: inflight[key] for key in jobs if key not in found and key in inflight}
        to_send = {key: r for key, r in jobs.items() if key not in found and key not in shared}
        self.stats.shared_in_flight += len(shared)
        if to_send:
            found.update(await self._send(to_send, inflight))
        for key, future in shared.items():
            found[key] = (await future, "shared")
        return found

    async def _send(
        self, to_send: dict[str, JudgeRequest], inflight: dict[str, asyncio.Future[Outcome]]
    ) -> dict[str, tuple[Outcome, str]]:
        loop = asyncio.get_running_loop()
        futures = {key: loop.create_future() for key in to_send}
        inflight.update(futures)
        self.stats.requests += len(to_send)
        outcomes: list[Outcome] = []
        try:
            outcomes = await self.backend.complete(list(to_send.values()))
        except Exception as error:  # a backend bug becomes an error outcome for each request, not a crash
            outcomes = [JudgeBackendError("bad_response", f"{type(error).__name__}: {error}")] * len(to_send)
        finally:
            # Waiters sharing these requests get the outcome, or a failure if this call was cancelled.
            cancelled = JudgeBackendError(
                "unavailable", "the judge call answering this request was cancelled"
            )
            for index, key in enumerate(futures):
                future = inflight.pop(key)
                if not future.done():
                    future.set_result(outcomes[index] if index < len(outcomes) else cancelled)
        replies = {k: o for k, o in zip(to_send, outcomes, strict=True) if isinstance(o, JudgeReply)}
        for reply in replies.values():
            self.stats.prompt_tokens += reply.prompt_tokens
            self.stats.completion_tokens += reply.completion_tokens
        if self.cache is not None and replies:
            await asyncio.to_thread(self.cache.put_many, replies)
        return {key: (outcome, "request") for key, outcome in zip(to_send, outcomes, strict=True)}

    # -- reading verdicts ----------------------------------------------------------------------------
    def _result(self, job: _Job, outcome: Outcome, source: str, fresh: bool) -> RewardResult:
        info = {**job.info, "source": source}
        if isinstance(outcome, JudgeBackendError):
            kind: ErrorKind = "timeout" if outcome.kind == "timeout" else "infrastructure"
            info.update(failure=outcome.kind, attempts=outcome.attempts)
            return RewardResult.failure(f"judge {outcome.kind}: {outcome}", kind=kind, **info)
        components = {
            "prompt_tokens": float(outcome.prompt_tokens if fresh else 0),
            "completion_tokens": float(outcome.completion_tokens if fresh else 0),
        }
        info["judge_output"] = outcome.text[:500]
        if outcome.choice_logprobs:
            value, extra = self._from_choice(outcome.choice_logprobs)
        else:
            try:
                value, extra = self._from_text(outcome)
            except VerdictError as error:
                return RewardResult.failure(f"judge verdict unparseable: {error}", **info)
        score = round(self.template.normalise(value), SCORE_DIGITS)
        return RewardResult(score=score, components=components, info={**info, **extra})

    def _from_choice(self, logprobs: dict[str, float] | Any) -> tuple[float, dict[str, Any]]:
        top = max(logprobs.values())
        weights = {label: math.exp(lp - top) for label, lp in logprobs.items()}
        total = sum(weights.values())
        probs = {label: w / total for label, w in weights.items()}
        value = sum(self.template.labels[label] * p for label, p in probs.items())
        return value, {"verdict": max(probs, key=probs.__getitem__), "probabilities": probs}

    def _from_text(self, reply: JudgeReply) -> tuple[float, dict[str, Any]]:
        verdict = self.parser.parse(reply.text)
        extra: dict[str, Any] = {"verdict": verdict.label, "parsed_by": verdict.method}
        if self.settings.verdict == "text":
            return verdict.value, extra
        weighted = (
            weighted_value(self.parser, reply.text, reply.logprobs, verdict) if reply.logprobs else None
        )
        if weighted is None:
            extra["logprobs"] = "unavailable at the verdict token; used the parsed verdict"
            return verdict.value, extra
        value, mass = weighted
        extra["label_probability_mass"] = mass
        return value, extra


class _Batcher:
    """Collects concurrent single-completion calls for `window` seconds, then judges them as one batch."""

    def __init__(self, judge: Judge, window: float) -> None:
        self.judge = judge
        self.window = window
        self.pending: list[tuple[Sample, str, asyncio.Future[RewardResult]]] = []
        self._tasks: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones

    async def submit(self, sample: Sample, completion: str) -> RewardResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RewardResult] = loop.create_future()
        if not self.pending:
            loop.call_later(self.window, self._start_flush, loop)
        self.pending.append((sample, completion, future))
        return await future

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            results = await self.judge.score_many([b[0] for b in batch], [b[1] for b in batch])
        except Exception as error:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _reference(sample: Sample) -> str | None:
    value = sample.info.get("reference", sample.answer) if sample.info else sample.answer
    return None if value is None else str(value)


def _question(sample: Sample) -> str:
    if sample.info and isinstance(sample.info.get("question"), str):
        return str(sample.info["question"])
    users = [m["content"] for m in sample.prompt if m.get("role") == "user"]
    return users[-1] if users else ""


def _canonical(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".").strip().lower()
