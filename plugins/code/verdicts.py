"""Host side of a test run: build the sandbox job from a Plan, read the nonce-tagged verdicts back."""

from __future__ import annotations

import base64
import json
import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardkit.plugins.code.formats import Plan
from rewardkit.sandbox.api import ExecResult, Job, Limits

HARNESS = (Path(__file__).parent / "harness_main.py").read_text()


@dataclass
class Outcome:
    """Per-test results of one sample. `passed[i]` is None when test i never reported (early exit)."""

    passed: list[bool | None]
    details: list[str] = field(default_factory=list)
    load_error: str | None = None
    tampered: str | None = None
    finished: bool = False

    @property
    def n_passed(self) -> int:
        return sum(1 for p in self.passed if p)


def make_job(plan: Plan, limits: Limits) -> tuple[Job, bytes]:
    nonce = secrets.token_hex(16).encode()
    files = {"solution.py": plan.program.encode(), "spec.json": json.dumps(plan.spec).encode()}
    # The harness is ours, so the sandbox may compile it once; the model's code travels as a file.
    return Job(HARNESS, stdin=nonce + b"\n", files=files, limits=limits, trusted=True), nonce


def read_outcome(plan: Plan, result: ExecResult, nonce: bytes, normalize: str, tolerance: float) -> Outcome:
    outcome = Outcome(passed=[None] * plan.n_tests, details=[""] * plan.n_tests)
    prefix = nonce + b" "
    for line in result.stdout.split(b"\n"):
        if line.startswith(prefix):
            _apply(
                outcome, plan, line[len(prefix) :].decode("ascii", "replace").split(" "), normalize, tolerance
            )
    if outcome.tampered:
        outcome.passed = [False] * plan.n_tests
    return outcome


def _apply(outcome: Outcome, plan: Plan, words: list[str], normalize: str, tolerance: float) -> None:
    kind = words[0]
    if kind == "done":
        outcome.finished = True
    elif kind == "tampered":
        outcome.tampered = words[1] if len(words) > 1 else "?"
    elif kind == "load" and words[1] == "fail":
        outcome.load_error = _b64(words[2]) if len(words) > 2 else "load failed"
        outcome.passed = [False] * plan.n_tests
    elif kind in ("test", "case") and len(words) >= 3 and words[1].isdigit():
        index = int(words[1])
        if index >= plan.n_tests:
            return
        detail = _b64(words[3]) if len(words) > 3 else ""
        if kind == "test":
            outcome.passed[index] = words[2] == "pass"
            outcome.details[index] = detail
        else:
            ok = words[2] == "ran" and same_output(detail, plan.expected[index], normalize, tolerance)
            outcome.passed[index] = ok
            outcome.details[index] = (
                "" if ok else f"{words[2]}: wrong output" if words[2] == "ran" else words[2]
            )


def _b64(text: str) -> str:
    try:
        return base64.b64decode(text).decode("utf-8", "replace")
    except ValueError:
        return ""


def same_output(actual: str, expected: str, mode: str, tolerance: float) -> bool:
    """Compare program output. exact | strip (trailing spaces/blank lines) | tokens | float."""
    if mode == "exact":
        return actual == expected
    if mode == "strip":
        return _lines(actual) == _lines(expected)
    got, want = actual.split(), expected.split()
    if mode == "tokens" or len(got) != len(want):
        return got == want
    return all(_close(a, b, tolerance) for a, b in zip(got, want, strict=False))


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _close(a: str, b: str, tolerance: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isfinite(x) and math.isfinite(y) and abs(x - y) <= tolerance * max(1.0, abs(y))


def summary(outcome: Outcome) -> dict[str, Any]:
    return {
        "tests": [
            {"passed": bool(p), "reported": p is not None, **({"detail": d} if d else {})}
            for p, d in zip(outcome.passed, outcome.details, strict=False)
        ],
        "passed": outcome.n_passed,
        "total": len(outcome.passed),
        "finished": outcome.finished,
        **({"load_error": outcome.load_error} if outcome.load_error else {}),
        **({"tampered": outcome.tampered} if outcome.tampered else {}),
    }
