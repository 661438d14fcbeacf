"""Test formats: how a sample's `info` turns into the judge's spec, and how records become Samples.

humaneval: info {prompt, test (defines check(candidate)), entry_point}; the program is prompt + code, so
           both a bare function body and a complete function work. The tests run beside the prompt (its
           imports and helpers), never beside the solution: `candidate` and the entry point call into it.
mbpp:      info {test_list (assert lines), test_imports, test_setup, entry_points}; `entry_points` names
           the functions the tests call (taken from the reference solution, which may shadow a builtin:
           MBPP 126 is `sum`). Other names the tests use and nothing trusted defines are the solution's.
stdio:     info {cases: [{input, output}]} or APPS-style {input_output: {"inputs": [...], "outputs": [...]}}
"""

from __future__ import annotations

import ast
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewardkit.sample_format import SampleFormat
from rewardkit.types import Sample, user

FORMATS = ("humaneval", "mbpp", "stdio")
SAMPLE_FORMAT = SampleFormat(
    one_of=(
        {"info.cases": "stdin/stdout cases: [{input, output}, ...]"},
        {"info.input_output": "APPS-style {inputs: [...], outputs: [...]} (or that as a JSON string)"},
        {"info.test_list": "MBPP-style assert lines"},
        {"info.test": "HumanEval-style code defining check(candidate)", "info.entry_point": "the function"},
    ),
    optional={
        "info.format": "humaneval | mbpp | stdio; detected from the keys when absent",
        "info.prompt": "humaneval: the prompt the completion's code is appended to",
        "info.test_imports": "mbpp: import lines run before the asserts",
        "info.test_setup": "mbpp: setup code run before the asserts",
    },
    example={
        "completion": "```python\nprint(int(input()) * 2)\n```",
        "info": {"cases": [{"input": "2", "output": "4"}]},
    },
)


@dataclass(frozen=True)
class Plan:
    """What runs in the sandbox (program + spec) and what the host compares against (stdio outputs)."""

    format: str
    program: str
    spec: dict[str, Any]
    expected: tuple[str, ...] = ()

    @property
    def n_tests(self) -> int:
        return len(self.expected) if self.format == "stdio" else len(self.spec["tests"])


def detect_format(info: Mapping[str, Any]) -> str | None:
    if "format" in info and info["format"] in FORMATS:
        return str(info["format"])
    if "cases" in info or "input_output" in info:
        return "stdio"
    if "test_list" in info:
        return "mbpp"
    if "test" in info and "entry_point" in info:
        return "humaneval"
    return None


def make_plan(fmt: str, info: Mapping[str, Any], code: str, test_timeout: float) -> Plan:
    if fmt == "humaneval":
        entry = info["entry_point"]
        tests = [f"{info['test']}\ncheck(candidate)\n"]
        spec = _call_spec(fmt, tests, test_timeout, prompt=info.get("prompt", ""), entry_points=[entry])
        return Plan(fmt, f"{info.get('prompt', '')}\n{code}", {**spec, "candidate": entry})
    if fmt == "mbpp":
        setup = "\n".join([*info.get("test_imports", []), info.get("test_setup", "") or ""])
        spec = _call_spec(
            fmt, list(info["test_list"]), test_timeout, setup=setup, entry_points=_entry_points(info)
        )
        return Plan(fmt, code, spec)
    if fmt == "stdio":
        inputs, outputs = stdio_cases(info)
        return Plan(fmt, code, {"format": fmt, "inputs": inputs, "timeout": test_timeout}, tuple(outputs))
    raise ValueError(f"unknown test format {fmt!r}; use one of {FORMATS}")


def _entry_points(info: Mapping[str, Any]) -> list[str]:
    if info.get("entry_points"):
        return list(info["entry_points"])
    return [info["entry_point"]] if "entry_point" in info else []


def _call_spec(fmt: str, tests: list[str], timeout: float, **parts: Any) -> dict[str, Any]:
    return {"format": fmt, "prompt": "", "setup": "", "tests": tests, "timeout": timeout, **parts}


def stdio_cases(info: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    if "cases" in info:
        cases = info["cases"]
        return [str(c["input"]) for c in cases], [str(c["output"]) for c in cases]
    raw = info["input_output"]
    data = json.loads(raw) if isinstance(raw, str) else raw
    return [_text(x) for x in data["inputs"]], [_text(x) for x in data["outputs"]]


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


# -- records -> samples ----------------------------------------------------------------------------
def humaneval_sample(record: Mapping[str, Any]) -> Sample:
    prompt = record["prompt"]
    instruction = (
        "Complete the following Python function. Reply with the complete function in a ```python block.\n\n"
    )
    info = {
        "format": "humaneval",
        "prompt": prompt,
        "test": record["test"],
        "entry_point": record["entry_point"],
    }
    return Sample(
        id=str(record["task_id"]),
        prompt=[user(instruction + f"```python\n{prompt}```")],
        answer=record.get("canonical_solution"),
        info=info,
    )


def mbpp_sample(record: Mapping[str, Any]) -> Sample:
    tests = list(record["test_list"])
    text = (
        f"{record.get('prompt') or record.get('text')}\nYour code should pass these tests:\n\n"
        + "\n".join(tests)
    )
    info = {
        "format": "mbpp",
        "test_list": tests,
        "test_imports": list(record.get("test_imports") or []),
        "test_setup": record.get("test_setup_code", "") or "",
        "entry_points": called_definitions(record.get("code") or "", tests),
    }
    return Sample(id=f"mbpp/{record['task_id']}", prompt=[user(text)], answer=record.get("code"), info=info)


def called_definitions(reference: str, tests: list[str]) -> list[str]:
    """Top-level functions and classes of the reference solution that the tests use by name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the dataset's strings are the dataset's own
            body = ast.parse(reference).body
            used = {
                node.id for test in tests for node in ast.walk(ast.parse(test)) if isinstance(node, ast.Name)
            }
    except SyntaxError:
        return []
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return sorted({node.name for node in body if isinstance(node, kinds)} & used)


def generic_sample(record: Mapping[str, Any], index: int) -> Sample:
    """Records already shaped like samples: {id, prompt|question, answer|solution, info|cases...}."""
    info = dict(record.get("info") or {})
    for key in ("cases", "input_output", "test_list", "test_imports", "test", "entry_point", "entry_points"):
        if key in record and key not in info:
            info[key] = record[key]
    prompt = record.get("prompt") or record.get("question") or ""
    if "test" in info and "entry_point" in info and isinstance(prompt, str):
        info.setdefault("prompt", prompt)  # HumanEval-shaped: its tests run beside the prompt's helpers
    return Sample(
        id=str(record.get("id", record.get("task_id", index))),
        prompt=[user(prompt)] if isinstance(prompt, str) else list(prompt),
        answer=record.get("answer", record.get("solution")),
        info=info,
    )
