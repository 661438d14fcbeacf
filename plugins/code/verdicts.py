"""Host side of a test run: the sandbox job for a Plan (a judge and the program it judges), and the
outcome read back from the judge's verdict lines."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardkit.plugins.code.formats import Plan
from rewardkit.sandbox.api import ExecResult, Job, Judge, Limits

_HERE = Path(__file__).parent
# Both sides speak plain data, so each program carries the codec's source ahead of its own.
_CODEC = (_HERE / "plaindata.py").read_text()
JUDGE = _CODEC + "\n" + (_HERE / "judge_main.py").read_text()
PROGRAM = _CODEC + "\n" + (_HERE / "program_main.py").read_text()


@dataclass
class Outcome:
    """Per-test results of one sample. `passed[i]` is None when test i never reported."""

    passed: list[bool | None]
    details: list[str] = field(default_factory=list)
    load_error: str | None = None
    finished: bool = False

    @property
    def n_passed(self) -> int:
        return sum(1 for p in self.passed if p)


def make_job(plan: Plan, limits: Limits) -> Job:
    """The model's code travels as a file of the program process; the tests go only to the judge."""
    judge = Judge(JUDGE, stdin=json.dumps(plan.spec).encode())
    return Job(
        PROGRAM, files={"solution.py": plan.program.encode()}, limits=limits, trusted=True, judge=judge
    )


def read_outcome(plan: Plan, result: ExecResult, normalize: str, tolerance: float) -> Outcome:
    outcome = Outcome(passed=[None] * plan.n_tests, details=[""] * plan.n_tests)
    for line in result.verdict.splitlines():
        try:
            verdict = json.loads(line)
        except ValueError:
            continue  # cut short by the output cap: the tests after it never reported
        _apply(outcome, plan, verdict, normalize, tolerance)
    return outcome


def _apply(outcome: Outcome, plan: Plan, verdict: dict[str, Any], normalize: str, tolerance: float) -> None:
    if verdict.get("done"):
        outcome.finished = True
    elif verdict.get("load") == "fail":
        outcome.load_error = str(verdict.get("detail") or "load failed")
        outcome.passed = [False] * plan.n_tests
    elif "test" in verdict and 0 <= verdict["test"] < plan.n_tests:
        outcome.passed[verdict["test"]] = verdict["verdict"] == "pass"
        outcome.details[verdict["test"]] = str(verdict.get("detail", ""))
    elif "case" in verdict and 0 <= verdict["case"] < plan.n_tests:
        index, ran = verdict["case"], verdict["verdict"]
        ok = ran == "ran" and same_output(str(verdict["output"]), plan.expected[index], normalize, tolerance)
        outcome.passed[index] = ok
        outcome.details[index] = "" if ok else f"{ran}: wrong output" if ran == "ran" else str(ran)


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
    }
