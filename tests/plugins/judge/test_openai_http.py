"""The `openai` backend's retries, backoff, failures and concurrency against a real loopback HTTP server.

The server is a small scripted peer (stdlib http.server on 127.0.0.1): it answers like an OpenAI-compatible
endpoint, or with the status a keyword in the request asks for, so each failure mode is reproducible.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rewardkit import Sample, user
from rewardkit.plugins.judge.config import JudgeSettings
from rewardkit.plugins.judge.judge import Judge

SAMPLE = Sample(id="q", prompt=[user("What is 6 * 7?")], answer="42")


def chat(content: str) -> dict[str, Any]:
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3},
    }


class Peer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: dict[str, int] = {}
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        self.authorization: list[str | None] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: Peer

    def log_message(self, *args: object) -> None:  # keep test output clean
        return

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "peer"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        keyword = next((k for k in BEHAVIOURS if k in prompt), "OK")
        with self.server.lock:
            hits = self.server.hits[keyword] = self.server.hits.get(keyword, 0) + 1
            self.server.active += 1
            self.server.max_active = max(self.server.max_active, self.server.active)
            self.server.authorization.append(self.headers.get("Authorization"))
        try:
            BEHAVIOURS[keyword](self, hits)
        finally:
            with self.server.lock:
                self.server.active -= 1

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _flaky(handler: Handler, hits: int) -> None:
    if hits == 1:
        handler._send(503, {"error": "overloaded"})
    elif hits == 2:
        handler._send(429, {"error": "slow down"}, {"Retry-After": "0.1"})
    else:
        handler._send(200, chat('{"verdict": "yes"}'))


def _later(handler: Handler, seconds: float, payload: dict[str, Any]) -> None:
    time.sleep(seconds)
    handler._send(200, payload)


BEHAVIOURS = {
    "FLAKY": _flaky,
    "DOWN500": lambda h, n: h._send(500, {"error": "boom"}),
    "BAD400": lambda h, n: h._send(400, {"error": "context too long"}),
    "GARBAGE": lambda h, n: h._send(200, b"<html>not json</html>"),
    "REFUSE": lambda h, n: h._send(
        200,
        {
            "choices": [
                {"message": {"content": None, "refusal": "I can't grade this."}, "finish_reason": "stop"}
            ]
        },
    ),
    "SORRY": lambda h, n: h._send(200, chat("I'm sorry, I can't help with that.")),
    "SLOW": lambda h, n: _later(h, 1.5, chat("yes")),
    "WAIT": lambda h, n: _later(h, 0.2, chat('{"verdict": "no"}')),
    "OK": lambda h, n: h._send(200, chat('{"verdict": "yes"}')),
}


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def judge_for(peer: Peer, **backend: Any) -> Judge:
    options = {"kind": "openai", "model": "peer", "base_url": peer.url, "backoff_initial": 0.05, **backend}
    return Judge(JudgeSettings.model_validate({"backend": options, "cache": False, "batch_window": 0}))


def run(judge: Judge, completions: list[str]) -> list[Any]:
    return judge.run_sync([SAMPLE] * len(completions), completions)


def test_retries_5xx_and_429_then_succeeds(peer: Peer) -> None:
    judge = judge_for(peer, max_retries=3)
    [result] = run(judge, ["FLAKY 41"])
    assert result.score == 1.0 and result.error is None
    assert peer.hits["FLAKY"] == 3
    assert result.components["prompt_tokens"] == 11.0  # usage is reported


def test_gives_up_after_max_retries_with_an_error_outcome(peer: Peer) -> None:
    [result] = run(judge_for(peer, max_retries=2), ["DOWN500"])
    assert result.score is None and "HTTP 500" in result.error
    assert result.info["attempts"] == 3 and peer.hits["DOWN500"] == 3


def test_client_errors_are_not_retried(peer: Peer) -> None:
    [result] = run(judge_for(peer, max_retries=3), ["BAD400"])
    assert result.score is None and "HTTP 400" in result.error and peer.hits["BAD400"] == 1


def test_garbage_refusals_and_timeouts_are_errors_and_the_batch_goes_on(peer: Peer) -> None:
    judge = judge_for(peer, max_retries=1, timeout=0.5)
    results = run(judge, ["GARBAGE", "REFUSE", "SORRY", "SLOW", "fine answer"])
    garbage, refuse, sorry, slow, fine = results
    assert garbage.score is None and "bad_response" in garbage.error
    assert refuse.score is None and "refus" in refuse.error
    assert sorry.score is None and "refused" in sorry.error  # a refusal in text is not a 0
    assert slow.score is None and slow.info["error_kind"] == "timeout" and peer.hits["SLOW"] == 2
    assert fine.score == 1.0
    assert judge.stats.errors == 4


def test_concurrency_is_bounded(peer: Peer) -> None:
    judge = judge_for(peer, max_concurrency=3)
    results = run(judge, [f"WAIT {i}" for i in range(9)])
    assert all(r.score == 0.0 for r in results)
    assert 2 <= peer.max_active <= 3


def test_api_key_comes_from_the_named_variable(peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RK_JUDGE_TEST_KEY", "sk-test-secret")
    judge = judge_for(peer, api_key_env="RK_JUDGE_TEST_KEY", max_retries=0)
    [ok, failed] = run(judge, ["fine", "DOWN500"])
    assert ok.score == 1.0
    assert set(peer.authorization) == {"Bearer sk-test-secret"}
    assert "sk-test-secret" not in repr(judge.settings) + str(failed.error) + str(failed.info)


def test_unreachable_endpoint_fails_setup_and_scores_as_errors() -> None:
    from judge_local import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    options = {"kind": "openai", "model": "m", "base_url": url, "max_retries": 1, "backoff_initial": 0.01}
    judge = Judge(JudgeSettings.model_validate({"backend": options, "cache": False}))

    async def set_up_then_score() -> list[Any]:
        with pytest.raises(ConnectionError, match="unreachable"):
            await judge.setup()
        return await judge.score_many([SAMPLE], ["41"])

    [result] = asyncio.run(set_up_then_score())
    assert result.score is None and "unavailable" in result.error and result.info["attempts"] == 2


def test_the_judge_reward_keeps_one_client_on_the_hosts_loop_whoever_calls(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    import rewardkit as rk
    from rewardkit.scoring import Scorer

    clients: list[httpx.AsyncClient] = []

    class Counted(httpx.AsyncClient):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            clients.append(self)

    monkeypatch.setattr(httpx, "AsyncClient", Counted)

    class Questions(rk.Environment):
        name = "questions"

        def dataset(self, split: str) -> list[Sample]:
            return [SAMPLE]

        async def score(self, sample: Sample, completion: str) -> float:
            return 0.0

    # batch_window 0: no batching; a distinct model name: a judge of its own among this process's judges
    backend = {"kind": "openai", "model": "peer-one-client", "base_url": peer.url}
    params = {"backend": backend, "cache": False, "batch_window": 0}
    env = Questions()
    rubric = rk.make_rubric({"judge.score": params}, env=env)
    results: list[Any] = []
    with Scorer(env, rubric=rubric) as scorer:
        results += scorer.score_batch_sync([SAMPLE] * 3, ["a", "b", "c"])
        results.append(asyncio.run(scorer.score(SAMPLE, "d")))  # from another event loop
        worker = threading.Thread(target=lambda: results.append(scorer.score_sync(SAMPLE, "e")))
        worker.start()
        worker.join(timeout=60)
    assert [r.score for r in results] == [1.0] * 5
    assert len(clients) == 1 and not clients[0].is_closed  # made once, on the host's loop, still in use
