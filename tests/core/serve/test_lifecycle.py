"""The server's bearer token, its refusal to bind beyond loopback without one, its one-line start-up
errors, and a graceful stop that finishes the requests in flight."""

from __future__ import annotations

import signal
import threading
import time

import httpx
from click.testing import CliRunner
from serve_server import start_server

from rewardkit.cli.main import cli

ECHO = {"environments": [{"name": "toy.echo"}]}
ITEM = {"env": "toy.echo", "sample": {"answer": "1"}, "completion": "1"}


def test_a_token_is_required_on_every_route_but_health(tmp_path):
    server = start_server(tmp_path, ECHO, token="s3cret")
    try:
        with server.client() as anonymous, server.client("wrong") as wrong, server.client("s3cret") as good:
            assert anonymous.get("/health").status_code == 200
            for client in (anonymous, wrong):
                refused = client.post("/v1/score", json={"items": [ITEM]})
                assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
                assert client.get("/metrics").status_code == 401
                assert client.get("/v1/envs").status_code == 401
            assert good.post("/v1/score", json={"items": [ITEM]}).json()["results"][0]["score"] == 1.0
    finally:
        server.stop()


def test_binding_beyond_loopback_needs_a_token(monkeypatch):
    monkeypatch.delenv("REWARDKIT_SERVE_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--env", "math", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "needs a bearer token" in result.output and "REWARDKIT_SERVE_TOKEN" in result.output


def test_start_up_mistakes_are_one_line():
    runner = CliRunner()
    for argv, says in [
        (["serve"], "nothing to serve"),
        (["serve", "--env", "mathh"], "unknown environment 'mathh'"),
        (["serve", "--env", "math", "--set", "grading.nope=1"], "environments.0"),
        (["serve", "--env", "math", "--env", "toy.echo", "--set", "a=1"], "apply to one --env"),
    ]:
        result = runner.invoke(cli, argv)
        assert result.exit_code == 2, (argv, result.output)
        assert says in result.output and "Traceback" not in result.output


def test_sigterm_finishes_the_requests_in_flight(tmp_path):
    server = start_server(tmp_path, ECHO)
    outcome: dict[str, httpx.Response] = {}

    def slow_request() -> None:
        with server.client() as client:
            outcome["reply"] = client.post("/v1/score", json={"items": [{**ITEM, "completion": "sleep:2"}]})

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.7)
    server.process.send_signal(signal.SIGTERM)
    thread.join(30)
    assert outcome["reply"].status_code == 200
    assert outcome["reply"].json()["results"][0]["score"] == 1.0
    # uvicorn re-raises the signal once it has stopped, so the exit status is the signal's own
    assert server.process.wait(30) in (0, -signal.SIGTERM)
    assert "Traceback" not in server.log.read_text()


def test_check_builds_the_environments_and_exits():
    result = CliRunner().invoke(cli, ["serve", "--env", "math.procedural", "--port", "8123", "--check"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/v1/score" in result.output
    assert "/openrlhf/math.procedural" in result.output
    assert "/nemo_gym/math.procedural/verify" in result.output
