"""Any OpenAI-compatible chat endpoint (vLLM, SGLang, TGI, llama.cpp server, hosted APIs), over httpx.

Bounded concurrency, retries with exponential backoff and jitter on 429 / 5xx / timeouts / connection
errors (honouring Retry-After), and per-request failures reported as JudgeBackendError values.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from typing import Any

import httpx

from rewardkit.errors import ConfigError, RewardkitError
from rewardkit.plugins.judge.backends.base import (
    FailureKind,
    JudgeBackend,
    JudgeBackendError,
    JudgeReply,
    JudgeRequest,
    Outcome,
    TokenLogprob,
)
from rewardkit.plugins.judge.config import OpenAIBackendConfig

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class EndpointError(RewardkitError, ConnectionError):
    """The endpoint cannot be used at all (down, key refused): reported in one line before scoring starts."""


class OpenAIBackend(JudgeBackend):
    kind = "openai"

    def __init__(self, config: OpenAIBackendConfig) -> None:
        self.config = config
        self.attempts = 0  # HTTP requests sent, retries included (for tests and stats)
        self._session: _Session | None = None  # made in setup(), on the loop that will use it

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.config.model, "base_url": self.config.base_url.rstrip("/")}

    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if name is None:
            return None
        key = os.environ.get(name)
        if not key:
            raise ConfigError(f"judge.backend.api_key_env: environment variable {name} is not set or empty")
        return key

    async def setup(self) -> None:
        if self._session is None:
            key = self._api_key()
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            limits = httpx.Limits(max_connections=self.config.max_concurrency)
            client = httpx.AsyncClient(
                base_url=self.config.base_url.rstrip("/"), headers=headers, limits=limits
            )
            self._session = _Session(client, asyncio.Semaphore(self.config.max_concurrency))
        if not self.config.probe:
            return
        try:
            response = await self._session.client.get("/models", timeout=min(self.config.timeout, 10.0))
        except httpx.HTTPError as error:
            raise EndpointError(
                f"judge endpoint {self.config.base_url} is unreachable ({type(error).__name__}: {error}); "
                "start the server or fix judge.backend.base_url (set probe: false to skip this check)"
            ) from None
        if response.status_code in (401, 403):
            raise EndpointError(
                f"judge endpoint {self.config.base_url} refused the API key (HTTP {response.status_code}); "
                f"check the variable named by judge.backend.api_key_env ({self.config.api_key_env})"
            )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.client.aclose()

    async def complete(self, requests: Sequence[JudgeRequest]) -> list[Outcome]:
        state = self._session
        if state is None:
            raise RuntimeError("the openai judge backend is not set up: `await judge.setup()` first")

        async def one(request: JudgeRequest) -> Outcome:
            async with state.limit:
                return await self._with_retries(state.client, request)

        return list(await asyncio.gather(*map(one, requests)))

    async def _with_retries(self, client: httpx.AsyncClient, request: JudgeRequest) -> Outcome:
        body = request_body(self.config.model, request, self.config.constrain)
        attempt = 0
        while True:
            attempt += 1
            self.attempts += 1
            failure, retry_after = await self._attempt(client, body)
            if isinstance(failure, JudgeReply):
                return failure
            failure.attempts = attempt
            retryable = failure.kind in ("timeout", "unavailable", "rate_limited") or retry_after is not None
            if not retryable or attempt > self.config.max_retries:
                return failure
            await asyncio.sleep(self._backoff(attempt, retry_after))

    async def _attempt(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> tuple[JudgeReply | JudgeBackendError, float | None]:
        """One HTTP exchange. The float is a retry delay for retryable statuses (0.0 if none given)."""
        try:
            response = await client.post("/chat/completions", json=body, timeout=self.config.timeout)
        except httpx.TimeoutException:
            return JudgeBackendError("timeout", f"no answer within {self.config.timeout:g}s"), None
        except httpx.TransportError as error:
            return JudgeBackendError("unavailable", f"{type(error).__name__}: {error}"), None
        if response.status_code == 200:
            return parse_response(response), None
        excerpt = response.text[:200].replace("\n", " ")
        if response.status_code in RETRY_STATUSES:
            kind: FailureKind = "rate_limited" if response.status_code == 429 else "http"
            message = f"HTTP {response.status_code}: {excerpt}"
            return JudgeBackendError(kind, message), _retry_after(response)
        return JudgeBackendError("http", f"HTTP {response.status_code} (not retried): {excerpt}"), None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after:
            return min(retry_after, self.config.backoff_max)
        delay = min(self.config.backoff_max, self.config.backoff_initial * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # jitter, so many clients do not retry in lockstep


class _Session:
    def __init__(self, client: httpx.AsyncClient, limit: asyncio.Semaphore) -> None:
        self.client = client
        self.limit = limit


def request_body(model: str, request: JudgeRequest, constrain: str = "json_schema") -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [dict(m) for m in request.messages],
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    if request.top_logprobs:
        body.update(logprobs=True, top_logprobs=request.top_logprobs)
    if request.choices and constrain == "vllm_choice":
        body["structured_outputs"] = {"choice": list(request.choices)}
    elif request.choices:
        # JSON schema with an enum: portable across OpenAI, vLLM, SGLang and TGI structured outputs.
        key = request.verdict_key or "verdict"
        schema = {
            "type": "object",
            "properties": {key: {"type": "string", "enum": list(request.choices)}},
            "required": [key],
            "additionalProperties": False,
        }
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": schema, "strict": True},
        }
    body.update(request.extra_body)
    if "max_completion_tokens" in body:  # newer hosted models reject max_tokens
        body.pop("max_tokens")
    return body


def parse_response(response: httpx.Response) -> JudgeReply | JudgeBackendError:
    try:
        data = response.json()
        choice = data["choices"][0]
        message = choice["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return JudgeBackendError("bad_response", f"not a chat completion: {response.text[:200]!r}")
    if message.get("refusal") or choice.get("finish_reason") == "content_filter":
        reason = message.get("refusal") or "content_filter"
        return JudgeBackendError("refusal", f"judge refused: {str(reason)[:200]}")
    content = message.get("content")
    if not isinstance(content, str):
        return JudgeBackendError("bad_response", "chat completion without text content")
    usage = data.get("usage") or {}
    return JudgeReply(
        text=content,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        logprobs=_logprobs(choice.get("logprobs")),
        finish_reason=str(choice.get("finish_reason") or ""),
    )


def _logprobs(block: Any) -> tuple[TokenLogprob, ...]:
    if not isinstance(block, dict) or not isinstance(block.get("content"), list):
        return ()
    tokens = []
    for item in block["content"]:
        top = {t["token"]: float(t["logprob"]) for t in item.get("top_logprobs") or ()}
        tokens.append(TokenLogprob(item["token"], float(item["logprob"]), top))
    return tuple(tokens)


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0
