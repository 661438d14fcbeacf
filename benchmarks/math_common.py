"""Shared helpers of the math benchmarks: data location and running `rewardkit score` as a whole process."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bytecode import compile_sources

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "math"
SHARED = ROOT.parent / "shared" / "corpora"
RK = Path(sys.executable).with_name("rewardkit")
LENIENT = ("--max-error-rate", "1")  # the benchmarks count error rows themselves instead of stopping


def corpus(name: str, shared_name: str | None = None) -> list[dict[str, Any]]:
    path = DATA / name if (DATA / name).is_file() else SHARED / (shared_name or name)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_with_cli(
    rows: list[dict[str, Any]], env: str = "math", *extra: str
) -> tuple[list[dict[str, Any]], float]:
    """Score rows ({answer, completion}) with `rewardkit score ENV`; returns output rows and wall seconds."""
    compile_sources()
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp, "in.jsonl"), Path(tmp, "out.jsonl")
        source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        start = time.perf_counter()
        subprocess.run(
            [str(RK), "score", env, "--input", str(source), "--output", str(target), *LENIENT, *extra],
            check=True,
        )
        elapsed = time.perf_counter() - start
        return [json.loads(line) for line in target.read_text().splitlines()], elapsed


def run_python(code: str, payload: Any) -> tuple[Any, float]:
    """Run `code` in a fresh interpreter, `payload` as JSON on stdin; returns its JSON stdout and seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(payload), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout), time.perf_counter() - start
