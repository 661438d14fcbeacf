"""Replies from any OpenAI-compatible chat endpoint (vLLM, SGLang, TGI, hosted APIs), with async httpx.

Bounded concurrency, retries with exponential backoff (connection errors, timeouts, 429 and 5xx, honouring
Retry-After), and the key read from a named environment variable so it never appears in a config or a run
folder. A 401/403/404 stops the run at once: every other request would fail the same way.

In an episode's turn the tool schemas go out as the request's `tools`, and the server reads the model's tool
calls (vLLM: `--enable-auto-tool-choice --tool-call-parser hermes`); they come back as `tool_calls`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
from collections.abc import Mapping
from typing import Any

from rewardkit.evaluation.config import EndpointConfig, SamplingConfig
from rewardkit.evaluation.policy import ContextExceeded, EndpointError, Finish, GenerationError, Reply
from rewardkit.types import Message, ToolCall

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
FATAL_STATUS = frozenset({401, 403, 404})
MAX_BACKOFF = 60.0


class EndpointChat:
    def __init__(
        self,
        model: str,
        endpoint: EndpointConfig,
        sampling: SamplingConfig,
        chat_template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not endpoint.base_url:
            raise EndpointError("endpoint.base_url: an OpenAI-compatible endpoint needs a URL (--base-url)")
        self.model = model
        self.endpoint = endpoint
        self.sampling = sampling
        self.template_kwargs = dict(chat_template_kwargs or {})
        self.url = endpoint.base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": f"Bearer {api_key(endpoint)}"} if endpoint.api_key_env else {}
        self._client: Any = None
        self._limit: asyncio.Semaphore | None = None

    def _session(self) -> tuple[Any, asyncio.Semaphore]:
        # Created on first use, inside the running loop that will use them.
        if self._client is None or self._limit is None:
            import httpx

            limits = httpx.Limits(
                max_connections=self.endpoint.max_concurrency, max_keepalive_connections=None
            )
            self._client = httpx.AsyncClient(
                timeout=self.endpoint.timeout, limits=limits, headers=self.headers
            )
            self._limit = asyncio.Semaphore(self.endpoint.max_concurrency)
        return self._client, self._limit

    def body(
        self, messages: list[Message], seed: int, tools: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        sampling = self.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": seed,
            "n": 1,
        }
        if sampling.top_k:
            body["top_k"] = sampling.top_k
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if self.template_kwargs:
            body["chat_template_kwargs"] = self.template_kwargs
        if tools:
            body["tools"] = list(tools)
        body.update(sampling.extra)
        return body

    async def chat(
        self, messages: list[Message], seed: int, tools: list[dict[str, Any]] | None = None
    ) -> Reply:
        client, limit = self._session()
        body = self.body(messages, seed, tools)
        async with limit:
            payload = await self._post(client, body, episode=tools is not None)
        return parse_reply(payload, with_message=tools is not None)

    async def _post(self, client: Any, body: dict[str, Any], episode: bool = False) -> dict[str, Any]:
        import httpx

        problem = ""
        for attempt in range(self.endpoint.retries + 1):
            delay = min(MAX_BACKOFF, self.endpoint.backoff * 2**attempt) * (0.5 + random.random())
            try:
                response = await client.post(self.url, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return _json(response)
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                if episode and response.status_code == 400 and _context_full(response.text):
                    raise ContextExceeded(f"{self.url} answered {problem}")
                if response.status_code in FATAL_STATUS:
                    raise EndpointError(
                        f"{self.url} answered {problem}; check --model, --base-url and the key"
                    )
                if response.status_code not in RETRY_STATUS:
                    raise GenerationError(f"{self.url} answered {problem}")
                delay = max(delay, _retry_after(response))
            if attempt < self.endpoint.retries:
                await asyncio.sleep(delay)
        raise GenerationError(
            f"{self.url} failed after {self.endpoint.retries + 1} attempts; last: {problem}"
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def api_key(endpoint: EndpointConfig) -> str:
    name = endpoint.api_key_env
    key = os.environ.get(name) if name else None
    if not key:
        raise EndpointError(f"endpoint.api_key_env: the environment variable {name} is not set or empty")
    return key


def parse_reply(payload: dict[str, Any], with_message: bool = False) -> Reply:
    """The reply of a chat completion; `with_message`: also as an assistant message with its tool calls."""
    try:
        choice = payload["choices"][0]
        raw = choice["message"]
        text = raw.get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise GenerationError(
            f"the endpoint's reply has no choices[0].message: {str(payload)[:300]}"
        ) from None
    usage = payload.get("usage") or {}
    finish: Finish = "length" if choice.get("finish_reason") == "length" else "stop"
    reply = Reply(
        text, finish, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    )
    if not with_message:
        return reply
    message: Message = {"role": "assistant", "content": text}
    calls, malformed = _tool_calls(raw.get("tool_calls"))
    if calls:
        message["tool_calls"] = calls
    return dataclasses.replace(reply, message=message, malformed=malformed)


def _tool_calls(raw: Any) -> tuple[list[ToolCall], str | None]:
    """The server's `tool_calls` as ToolCalls (ids and JSON-string arguments kept, as the server will want
    them back), or why they cannot be used."""
    if raw is None:
        return [], None
    calls: list[ToolCall] = []
    for call in raw if isinstance(raw, list) else [raw]:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            return [], f"the endpoint returned a tool call without a function name: {json.dumps(call)[:200]}"
        name, arguments = function["name"], function.get("arguments")
        out: ToolCall = {
            "type": "function",
            "function": {"name": name, "arguments": "{}" if arguments is None else arguments},
        }
        if isinstance(call.get("id"), str):
            out["id"] = call["id"]
        calls.append(out)
    return calls, None


def _context_full(text: str) -> bool:
    """vLLM, SGLang and OpenAI answer a prompt longer than the model's context with a 400 saying so."""
    lowered = text.lower()
    return "context length" in lowered or "context_length_exceeded" in lowered


def _json(response: Any) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise GenerationError(f"the endpoint answered non-JSON: {response.text[:300]}") from None
    if not isinstance(payload, dict):
        raise GenerationError(f"the endpoint answered {type(payload).__name__}, not an object")
    return payload


def _retry_after(response: Any) -> float:
    try:
        return min(MAX_BACKOFF, float(response.headers.get("retry-after", 0)))
    except ValueError:
        return 0.0
