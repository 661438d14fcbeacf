"""The `sandboxfusion` backend against a loopback server speaking SandboxFusion's /run_code API, alone and
under the code environment."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

import rewardkit as rk
from rewardkit.sandbox import Job, Judge, Limits, make_sandbox

sys.path.insert(0, str(Path(__file__).parent))
from sandboxfusion_stub import SandboxFusionStub


@pytest.fixture
def fleet():
    with SandboxFusionStub() as stub:
        yield stub


def test_statuses_stdin_files_and_output_cap(fleet):
    sandbox = make_sandbox("sandboxfusion", url=fleet.url, backoff=0)
    with sandbox:
        ok = sandbox.run(
            "import sys; print(open('data.txt').read() + sys.stdin.read())", b"in", {"data.txt": b"f:"}
        )
        failed = sandbox.run("raise SystemExit(3)")
        slow = sandbox.run("import time; time.sleep(5)", timeout=0.5)
        loud = sandbox.run("print('x' * 5000)", limits=Limits(output=1024))
    assert (ok.status, ok.stdout) == ("ok", b"f:in\n")
    assert (failed.status, failed.exit_code) == ("error", 3)
    assert slow.status == "timeout"
    assert (loud.status, len(loud.stdout), loud.truncated) == ("output_limit", 1024, True)
    request = fleet.requests[0]["body"]
    assert request["language"] == "python" and request["run_timeout"] == 10.0
    assert base64.b64decode(request["files"]["main.py"]).startswith(b"import sys")


# The judge asks the program over the link for its answer and prints the verdict; the program also writes
# to its own stdout, which the verdict never contains.
JUDGE = """import os, sys
read_fd, write_fd = (int(fd) for fd in os.environ["REWARDKIT_LINK"].split())
os.write(write_fd, sys.stdin.buffer.read() + b"\\n")
answer = os.fdopen(read_fd).readline().strip()
print("pass" if answer == "42" else "fail", answer)
"""
PROGRAM = """import os, sys
read_fd, write_fd = (int(fd) for fd in os.environ["REWARDKIT_LINK"].split())
question = os.fdopen(read_fd).readline().strip()
print("asked", question, "with", sys.stdin.read())
os.write(write_fd, (str(eval(question)) + "\\n").encode())
"""


def test_a_judged_job_runs_its_judge_beside_the_program(fleet):
    def job(question: bytes, **limits: int) -> Job:
        judge = Judge(JUDGE, stdin=question)
        return Job(PROGRAM, stdin=b"input", judge=judge, limits=Limits(**limits))

    with make_sandbox("sandboxfusion", url=fleet.url) as sandbox:
        right, wrong = sandbox.run_job(job(b"6 * 7")), sandbox.run_job(job(b"6 * 8"))
        loud = sandbox.run_job(job(b"'x' * 3000", output=1024))
    assert (right.status, right.verdict, right.stdout) == ("ok", b"pass 42\n", b"asked 6 * 7 with input\n")
    assert wrong.verdict == b"fail 48\n"
    assert (loud.status, loud.truncated, len(loud.verdict)) == ("output_limit", True, 1024)


def test_transient_failures_are_retried_and_a_dead_fleet_is_a_sandbox_error(fleet):
    with make_sandbox("sandboxfusion", url=fleet.url, backoff=0, retries=2) as sandbox:
        fleet.fail_next, fleet.sandbox_errors = 1, 1
        assert sandbox.run("print(1)").status == "ok"
        fleet.fail_next = 3
        down = sandbox.run("print(1)")
    assert down.status == "sandbox_error" and "503" in (down.error or "")
    with make_sandbox("sandboxfusion", url="http://127.0.0.1:9", retries=0) as sandbox:
        assert "unreachable" in (sandbox.run("print(1)").error or "")


def test_options_are_checked_and_the_token_is_sent(fleet, monkeypatch):
    with pytest.raises(rk.ConfigError, match=r"sandbox_options\.concurrency"):
        make_sandbox("sandboxfusion", url=fleet.url, concurrency=0)
    with pytest.raises(rk.ConfigError, match=r"sandbox_options\.url"):
        make_sandbox("sandboxfusion")
    monkeypatch.setenv("FLEET_TOKEN", "s3cret")
    with make_sandbox("sandboxfusion", url=fleet.url, token_env="FLEET_TOKEN") as sandbox:
        sandbox.run("print(1)")
    assert fleet.requests[-1]["auth"] == "Bearer s3cret"


STDIO = rk.Sample("sum", [rk.user("sum")], info={"cases": [{"input": "1 2\n", "output": "3\n"}]})
HUMANEVAL = rk.Sample(
    "add",
    [rk.user("def add(a, b):")],
    info={
        "prompt": 'def add(a, b):\n    """The sum."""\n',  # the prompt runs on its own: a whole function
        "entry_point": "add",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
    },
)


def test_the_code_environment_scores_on_the_fleet(fleet):
    env = rk.load_environment("code", sandbox="sandboxfusion", sandbox_options={"url": fleet.url})
    right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    wrong = "```python\nprint(0)\n```"
    with rk.Scorer(env) as scorer:
        results = scorer.score_batch_sync(
            [STDIO, STDIO, HUMANEVAL, HUMANEVAL], [right, wrong, "    return a + b\n", "    return a - b\n"]
        )
    assert [r.score for r in results] == [1.0, 0.0, 1.0, 0.0], [r.info for r in results]


def test_an_unreachable_fleet_is_an_error_outcome_not_a_zero():
    env = rk.load_environment(
        "code", sandbox="sandboxfusion", sandbox_options={"url": "http://127.0.0.1:9", "retries": 0}
    )
    with rk.Scorer(env) as scorer:
        result = scorer.score_sync(STDIO, "```python\nprint(3)\n```")
    assert result.score is None and "sandbox_error" in (result.error or "")
