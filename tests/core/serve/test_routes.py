"""Every route of `rewardkit serve` against a real uvicorn process on loopback: scores equal in-process
scores, compatible protocols, caps and fuzzed bodies answered 4xx with the server still healthy."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import rewardkit as rk

COMPLETIONS = [
    "<think>so</think><answer>{a}</answer>",
    "The answer is \\boxed{{{a}}}.",
    "<answer>{a}1</answer>",
    "no idea",
    "",
]


def math_rows(n: int = 8) -> tuple[list[rk.Sample], list[str]]:
    samples = list(itertools.islice(rk.load_environment("math").dataset("train"), n))
    pairs = [(s, c.format(a=s.answer)) for s in samples for c in COMPLETIONS]
    return [s for s, _ in pairs], [c for _, c in pairs]


def in_process(samples, completions, rubric=None):
    env = rk.load_environment("math")
    with rk.Scorer(env, rubric=rk.make_rubric(rubric, env=env) if rubric else None) as scorer:
        scorer.score_batch_sync(samples[:1], completions[:1])  # start the math workers outside any deadline
        return [r.to_dict() for r in scorer.score_batch_sync(samples, completions)]


def test_scores_equal_in_process_scores(server):
    samples, completions = math_rows()
    items = [
        {"env": "math", "sample": s.to_dict(), "completion": c}
        for s, c in zip(samples, completions, strict=True)
    ]
    shaped = [{**item, "env": "shaped"} for item in items]
    with server.client() as client:
        reply = client.post("/v1/score", json={"items": items + shaped})
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert results[: len(items)] == in_process(samples, completions)
    assert results[len(items) :] == in_process(
        samples, completions, {"math": 1.0, "format.think_answer": 0.5}
    )
    assert {r["score"] for r in results} >= {0.0, 1.0, 1.5}


def test_sample_ids_trajectories_and_envs(server):
    with server.client() as client:
        reply = client.post(
            "/v1/score",
            json={
                "items": [
                    {"env": "toy.echo", "sample_id": "train-3", "completion": "3"},
                    {"env": "toy.echo", "sample_id": "train-3", "split": "train", "completion": "4"},
                    {
                        "env": "toy.echo",
                        "sample": {"answer": "7"},
                        "trajectory": {
                            "messages": [
                                {"role": "assistant", "content": "6"},
                                {"role": "user", "content": "again"},
                                {"role": "assistant", "content": "7"},
                            ]
                        },
                    },
                ]
            },
        )
        assert [r["score"] for r in reply.json()["results"]] == [1.0, 0.0, 1.0]
        two_turns = {
            "messages": [
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "again"},
                {"role": "assistant", "content": "b"},
            ]
        }
        episodes = [  # an episode environment scores every turn of a trajectory, not its last message
            {"env": "toy.turns", "sample_id": "two", "trajectory": two_turns},
            {"env": "toy.turns", "sample_id": "two", "completion": "b"},
        ]
        reply = client.post("/v1/score", json={"items": episodes})
        assert [r["score"] for r in reply.json()["results"]] == [1.0, 0.0]
        missing = client.post(
            "/v1/score", json={"items": [{"env": "toy.echo", "sample_id": "nope", "completion": "x"}]}
        )
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
        envs = {e["name"]: e for e in client.get("/v1/envs").json()["environments"]}
    assert set(envs) == {"math", "shaped", "toy.echo", "toy.crash", "toy.turns"}
    assert envs["shaped"]["reward_range"] == [0.0, 1.5]
    assert any(field[0] == "answer" for field in envs["math"]["sample_fields"])


def test_openrlhf_and_nemo_gym_routes(server):
    samples, completions = math_rows(3)
    expected = [r["score"] for r in in_process(samples, completions)]
    prompt = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    with server.client() as client:
        openrlhf = client.post(
            "/openrlhf/math",
            json={
                "query": [prompt + c + "<|im_end|>" for c in completions],
                "prompts": [prompt] * len(completions),
                "labels": [json.dumps(s.to_dict()) for s in samples],
            },
        ).json()
        assert openrlhf["rewards"] == expected and openrlhf["scores"] == expected
        assert "rewardkit/math/error_rate" in openrlhf["extra_logs"]
        verified = []
        for sample, completion in zip(samples, completions, strict=True):
            body = {
                "responses_create_params": {"input": [{"role": "user", "content": "Q"}]},
                "response": {
                    "id": "r",
                    "object": "response",
                    "output": [
                        {"type": "reasoning", "summary": []},
                        {
                            "type": "message",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": completion, "annotations": []}],
                        },
                    ],
                },
                "expected_answer": sample.answer,
            }
            reply = client.post("/nemo_gym/math/verify", json=body).json()
            assert reply["expected_answer"] == sample.answer and reply["mask_sample"] is False
            verified.append(reply["reward"])
        assert verified == expected
        only_one = client.post("/verify", json={"response": {"output": []}})
        assert only_one.status_code == 404 and "/nemo_gym/<environment>" in only_one.json()["error"]


def test_metrics_and_health(server):
    with server.client() as client:
        client.post(
            "/v1/score", json={"items": [{"env": "toy.echo", "sample": {"answer": "1"}, "completion": "1"}]}
        )
        text = client.get("/metrics").text
        assert client.get("/health").json()["status"] == "ok"
    assert 'rewardkit_serve_requests_total{route="/v1/score",status="200"}' in text
    assert 'rewardkit_serve_items_total{env="toy.echo",outcome="scored"}' in text


def test_a_request_deadline_answers_with_error_outcomes(server):
    started = time.monotonic()
    with server.client() as client:
        reply = client.post(
            "/v1/score",
            json={
                "timeout": 0.5,
                "items": [
                    {"env": "toy.echo", "sample": {"answer": "1"}, "completion": "sleep:20"},
                    {"env": "math", "sample": {"answer": "1"}, "completion": "<answer>1</answer>"},
                ],
            },
        )
    slow, quick = reply.json()["results"]
    assert time.monotonic() - started < 10
    assert slow["score"] is None and "deadline" in slow["error"]
    assert quick["score"] == 1.0


def _fuzzed_bodies() -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    valid = json.dumps(
        {"items": [{"env": "toy.echo", "sample": {"answer": "1"}, "completion": "1"}]}
    ).encode()
    too_many = {"items": [{"env": "toy.echo", "sample": {"answer": "1"}, "completion": "1"}] * 257}
    return [
        ("empty", b""),
        ("truncated JSON", valid[:-7]),
        ("binary", bytes(rng.randrange(256) for _ in range(4096))),
        ("invalid UTF-8", b'{"items": [{"env": "\xff\xfe"}]}'),
        ("a list", b"[1, 2, 3]"),
        ("a string", b'"items"'),
        ("null", b"null"),
        ("items not a list", b'{"items": "x"}'),
        ("env a number", b'{"items": [{"env": 1, "sample": {}, "completion": "1"}]}'),
        ("completion a number", b'{"items": [{"env": "toy.echo", "sample": {}, "completion": 1}]}'),
        ("unknown field", b'{"items": [], "itemz": []}'),
        ("unknown environment", b'{"items": [{"env": "nope", "sample": {}, "completion": "1"}]}'),
        ("no sample", b'{"items": [{"env": "toy.echo", "completion": "1"}]}'),
        ("math without answer", b'{"items": [{"env": "math", "sample": {"info": {}}, "completion": "1"}]}'),
        (
            "bad trajectory",
            b'{"items": [{"env": "toy.echo", "sample": {}, "trajectory": {"stop_reason": "?"}}]}',
        ),
        ("negative timeout", b'{"items": [], "timeout": -1}'),
        ("deep nesting", b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        ("too many items", json.dumps(too_many).encode()),
        ("over the body cap", b'{"items": [], "pad": "' + b"x" * (2 << 20) + b'"}'),
    ]


@pytest.mark.parametrize(("name", "body"), _fuzzed_bodies(), ids=[n for n, _ in _fuzzed_bodies()])
def test_fuzzed_bodies_get_a_4xx_with_one_line(server, name, body):
    with server.client() as client:
        reply = client.post("/v1/score", content=body, headers={"content-type": "application/json"})
        assert 400 <= reply.status_code < 500, (name, reply.status_code, reply.text[:300])
        error = reply.json()["error"]
        assert isinstance(error, str) and "\n" not in error and len(error) <= 500
        assert client.get("/health").status_code == 200


def test_other_routes_and_methods_are_4xx_too(server):
    with server.client() as client:
        assert client.get("/v1/score").status_code == 405
        assert client.get("/nope").status_code == 404
        assert client.post("/openrlhf/math", json={"query": ["a"], "prompts": []}).status_code == 400
        assert client.post("/openrlhf", json={"query": [], "prompts": []}).status_code == 404
        chunked = client.post("/v1/score", content=iter([b'{"items": [], "pad": "', b"x" * (2 << 20), b'"}']))
        assert chunked.status_code == 413
        ok = client.post(
            "/v1/score", json={"items": [{"env": "toy.echo", "sample": {"answer": "1"}, "completion": "1"}]}
        )
        assert ok.json()["results"][0]["score"] == 1.0


def test_concurrent_clients_all_answered(server):
    """A bounded load: 8 clients x 5 requests of 32 rows each."""
    samples, completions = math_rows(4)
    items = [
        {"env": "math", "sample": s.to_dict(), "completion": c}
        for s, c in zip(samples, completions, strict=True)
    ]
    items = (items * 2)[:32]

    def client_run(_: int) -> list[int]:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return [client.post("/v1/score", json={"items": items}).status_code for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        codes = [code for codes in pool.map(client_run, range(8)) for code in codes]
    assert codes == [200] * 40


def test_killing_a_scoring_worker_mid_request_is_an_error_outcome(server, tmp_path):
    pidfile = tmp_path / "worker.pid"
    outcome: dict[str, httpx.Response] = {}

    def request() -> None:
        with server.client() as client:
            outcome["reply"] = client.post(
                "/v1/score",
                json={
                    "items": [
                        {"env": "toy.crash", "sample": {"info": {"pidfile": str(pidfile)}}, "completion": ""}
                    ]
                },
            )

    thread = threading.Thread(target=request)
    started = time.monotonic()
    thread.start()
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() - started < 120, "the worker never started"
        time.sleep(0.1)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive(), "the request hung after its worker was killed"
    (result,) = outcome["reply"].json()["results"]
    assert result["score"] is None and result["error"]
    with server.client() as client:
        assert client.get("/health").status_code == 200
        again = client.post(
            "/v1/score", json={"items": [{"env": "toy.echo", "sample": {"answer": "2"}, "completion": "2"}]}
        )
        assert again.json()["results"][0]["score"] == 1.0
    assert Path(server.log).exists()
