"""Locating the math reference data: tests/data/math/ first, then the team's shared corpora."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve()
LOCAL = HERE.parents[2] / "data" / "math"
SHARED = HERE.parents[3].parent / "shared" / "corpora"
SHARED_NAMES = {
    "gsm8k_test_200.jsonl": "gsm8k_test.jsonl",
    "math500_100.jsonl": "math500.jsonl",
    "math_equivalence.jsonl": "math_equivalence.jsonl",
}


def data_file(name: str) -> Path:
    """The local copy, or the shared corpus it was cut from; a missing file fails the test (no skip)."""
    local = LOCAL / name
    if local.is_file():
        return local
    shared = SHARED / SHARED_NAMES[name]
    if shared.is_file():
        return shared
    raise FileNotFoundError(f"math test data {name} is in neither {LOCAL} nor {SHARED}")


def read_jsonl(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit]


@pytest.fixture(scope="session")
def equivalence_cases() -> list[dict[str, Any]]:
    return read_jsonl(data_file("math_equivalence.jsonl"))
