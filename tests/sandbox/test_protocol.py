"""The Docker supervisor's request and result format, host side (no Docker needed)."""

from __future__ import annotations

import json
import struct

import pytest

from rewardkit.sandbox import Job, Judge
from rewardkit.sandbox.protocol import (
    BUNDLE,
    KEPT_PROGRAMS_MAX,
    ProtocolError,
    job_request,
    parse_result,
    program_digest,
    supervisor_bundle,
)


def test_a_trusted_program_is_sent_whole_once_then_by_digest() -> None:
    kept: set[str] = set()
    job = Job("print('harness')", files={"x": b"1"}, trusted=True)
    first, second = job_request(job, "fork", kept)["program"], job_request(job, "fork", kept)["program"]
    assert (first["source"], first["keep"], first["digest"]) == (job.code, True, program_digest(job.code))
    assert "source" not in second and "keep" not in second and second["digest"] == first["digest"]
    assert second["files"] == first["files"] == {"x": "MQ=="}
    assert kept == {program_digest(job.code)}


@pytest.mark.parametrize(("trusted", "mode"), [(False, "fork"), (True, "exec")])
def test_untrusted_code_and_exec_mode_always_carry_the_code(trusted: bool, mode: str) -> None:
    kept: set[str] = set()
    job = Job("print(1)", trusted=trusted)
    for _ in range(2):
        program = job_request(job, mode, kept)["program"]
        assert program["source"] == job.code and "digest" not in program and "keep" not in program
    assert kept == set()


def test_past_the_limit_programs_travel_whole_every_time() -> None:
    kept = {program_digest(f"print({i})") for i in range(KEPT_PROGRAMS_MAX)}
    job = Job("print('one more')", trusted=True)
    for _ in range(2):
        program = job_request(job, "fork", kept)["program"]
        assert program["source"] == job.code and "keep" not in program
    assert len(kept) == KEPT_PROGRAMS_MAX


def test_the_judge_is_kept_even_in_exec_mode_and_carries_its_own_stdin() -> None:
    kept: set[str] = set()
    job = Job("print(1)", stdin=b"to the program", judge=Judge("print('verdict')", stdin=b"tests"))
    request = job_request(job, "exec", kept)
    assert request["judge"] == {
        "digest": program_digest("print('verdict')"),
        "source": "print('verdict')",
        "keep": True,
        "stdin": "dGVzdHM=",
    }
    assert request["program"]["stdin"] == "dG8gdGhlIHByb2dyYW0="
    assert "judge" not in job_request(Job("print(1)"), "fork", kept)


def test_the_supervisor_bundle_holds_its_modules_in_import_order() -> None:
    body = supervisor_bundle()
    bundle = json.loads(body[4:])
    assert struct.unpack(">I", body[:4])[0] == len(body) - 4
    assert [name for name, _ in bundle["modules"]] == [f"rewardkit.sandbox.{name}" for name in BUNDLE]
    assert bundle["main"] == "rewardkit.sandbox.supervisor"


def test_a_refusal_is_a_protocol_error_naming_the_reason() -> None:
    with pytest.raises(ProtocolError, match="unknown program abc"):
        parse_result({"refused": "unknown program abc: send its code again"})


def test_a_result_reports_what_the_supervisor_found_left_behind() -> None:
    reply = {
        "status": "ok",
        "exit_code": 0,
        "verdict": "eyJkb25lIjogdHJ1ZX0=",
        "problems": ["IPC object left"],
    }
    result, problems = parse_result(reply)
    assert (result.status, result.verdict, problems) == ("ok", b'{"done": true}', ["IPC object left"])
