"""The Docker supervisor's request format, host side (no Docker needed)."""

from __future__ import annotations

import pytest

from rewardkit.sandbox import Job
from rewardkit.sandbox.protocol import (
    KEPT_PROGRAMS_MAX,
    ProtocolError,
    job_request,
    parse_result,
    program_digest,
)


def test_a_trusted_program_is_sent_whole_once_then_by_digest() -> None:
    kept: set[str] = set()
    job = Job("print('harness')", files={"x": b"1"}, trusted=True)
    first, second = job_request(job, "fork", kept), job_request(job, "fork", kept)
    assert (first["code"], first["keep"], first["program"]) == (job.code, True, program_digest(job.code))
    assert "code" not in second and "keep" not in second and second["program"] == first["program"]
    assert second["files"] == first["files"] == {"x": "MQ=="}
    assert kept == {program_digest(job.code)}


@pytest.mark.parametrize(("trusted", "mode"), [(False, "fork"), (True, "exec")])
def test_untrusted_code_and_exec_mode_always_carry_the_code(trusted: bool, mode: str) -> None:
    kept: set[str] = set()
    job = Job("print(1)", trusted=trusted)
    for _ in range(2):
        request = job_request(job, mode, kept)
        assert request["code"] == job.code and "program" not in request and "keep" not in request
    assert kept == set()


def test_past_the_limit_programs_travel_whole_every_time() -> None:
    kept = {program_digest(f"print({i})") for i in range(KEPT_PROGRAMS_MAX)}
    job = Job("print('one more')", trusted=True)
    for _ in range(2):
        request = job_request(job, "fork", kept)
        assert request["code"] == job.code and "keep" not in request
    assert len(kept) == KEPT_PROGRAMS_MAX


def test_a_refusal_is_a_protocol_error_naming_the_reason() -> None:
    with pytest.raises(ProtocolError, match="unknown program abc"):
        parse_result({"refused": "unknown program abc: send its code again"})
