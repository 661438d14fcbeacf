"""Behaviour every backend must share, including unsafe_local (which is only for trusted code)."""

from __future__ import annotations

import pytest

from rewardkit.sandbox import Job, Limits, Sandbox
from rewardkit.sandbox.testing import open_sandbox

HUMANEVAL_0 = """
from typing import List
def has_close_elements(numbers: List[float], threshold: float) -> bool:
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)
assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
assert not has_close_elements([1.0, 2.0, 3.0], 0.5)
print("all good")
"""


@pytest.fixture(
    scope="module", params=[pytest.param("docker", marks=pytest.mark.docker), "bwrap", "unsafe_local"]
)
def box(request: pytest.FixtureRequest) -> Sandbox:
    sandbox = open_sandbox(request.param, **({"pool_size": 2} if request.param == "docker" else {}))
    yield sandbox
    sandbox.close()


def test_snippet_passes(box: Sandbox) -> None:
    result = box.run(HUMANEVAL_0)
    assert (result.status, result.exit_code, result.stdout) == ("ok", 0, b"all good\n")


def test_failing_assert_is_error(box: Sandbox) -> None:
    result = box.run("assert 1 == 2, 'nope'")
    assert result.status == "error" and result.exit_code == 1
    assert b"AssertionError: nope" in result.stderr


def test_stdin_round_trip_binary_and_large(box: Sandbox) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB of every byte value (A10)
    code = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d); sys.stderr.write('é' * 1000)"
    result = box.run(code, stdin=data, output=8 << 20)
    assert result.status == "ok"
    assert result.stdout == data
    assert result.stderr.decode() == "é" * 1000


@pytest.mark.parametrize(("code", "exit_code"), [("import sys; sys.exit(3)", 3), ("raise SystemExit(0)", 0)])
def test_exit_codes(box: Sandbox, code: str, exit_code: int) -> None:
    result = box.run(code)
    assert result.exit_code == exit_code
    assert result.status == ("ok" if exit_code == 0 else "error")


def test_files_are_provided_and_names_cannot_escape(box: Sandbox) -> None:  # B11, B4
    ok = box.run("print(open('data/in.txt').read())", files={"data/in.txt": b"hello"})
    assert (ok.status, ok.stdout) == ("ok", b"hello\n")
    bad = box.run("print(1)", files={"../escape.txt": b"x"})
    assert bad.status == "error" and bad.stdout == b""


def test_timeout_status_and_budget(box: Sandbox) -> None:  # A5
    result = box.run("import time; time.sleep(0.5)", timeout=0.2)
    assert result.status == "timeout"
    assert result.duration < 1.5


def test_output_cap(box: Sandbox) -> None:
    result = box.run("while True: print('x' * 10**5)", output=1 << 16)
    assert result.status == "output_limit" and result.truncated
    assert len(result.stdout) <= 1 << 16


def test_run_batch_keeps_order(box: Sandbox) -> None:
    jobs = [Job(f"print({i} * {i})", limits=Limits(timeout=5)) for i in range(6)]
    assert [r.stdout for r in box.run_batch(jobs)] == [f"{i * i}\n".encode() for i in range(6)]


def test_trusted_code_behaves_like_untrusted_and_keeps_no_state(box: Sandbox) -> None:
    # Backends may compile trusted code once outside the job; the job must not notice.
    program = (
        "import builtins, sys\n"
        "print(hasattr(builtins, 'LEFT_BY_EARLIER_JOB'), open('in.txt').read(), sys.stdin.read())\n"
        "builtins.LEFT_BY_EARLIER_JOB = 1\n"
    )
    for trusted in (True, True, False):
        job = Job(program, stdin=b"s", files={"in.txt": b"f"}, limits=Limits(timeout=5), trusted=trusted)
        result = box.run_job(job)
        assert (result.status, result.stdout) == ("ok", b"False f s\n")


def test_trusted_code_with_a_syntax_error_reports_it(box: Sandbox) -> None:
    for _ in range(2):  # the second time, a backend that keeps trusted programs has kept this one
        result = box.run_job(Job("def broken(:\n", limits=Limits(timeout=5), trusted=True))
        assert result.status == "error" and result.exit_code == 1
        assert b"SyntaxError" in result.stderr


def test_the_program_ends_after_its_threads(box: Sandbox) -> None:
    code = "import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()"
    result = box.run(code)
    assert (result.status, result.stdout) == ("ok", b"late\n")
