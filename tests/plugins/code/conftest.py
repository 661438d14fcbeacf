"""Code-environment fixtures: one started env per backend per module, data from the shared corpora."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import rewardkit as rk
from rewardkit.plugins.code.env import CodeEnv, HumanEvalEnv, MbppEnv
from rewardkit.sandbox.testing import require_backend


@pytest.fixture(scope="module", params=[pytest.param("docker", marks=pytest.mark.docker), "bwrap"])
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request.param)
    return request.param


def _scorer(cls: type[CodeEnv], backend: str, slots: int = 2, **config: object) -> Iterator[rk.Scorer]:
    options = {"pool_size": slots} if backend == "docker" else {"concurrency": slots}
    env = cls(sandbox=backend, sandbox_options=options, **config)
    with rk.Scorer(env) as scorer:
        yield scorer


@pytest.fixture(scope="module")
def code_scorer(backend: str) -> Iterator[rk.Scorer]:
    yield from _scorer(CodeEnv, backend, timeout=3.0, test_timeout=2.0)


@pytest.fixture(scope="module")
def one_slot_scorer(backend: str) -> Iterator[rk.Scorer]:
    """One container (or one job at a time), so a probe after a job runs where the job ran."""
    yield from _scorer(CodeEnv, backend, slots=1, timeout=3.0, test_timeout=2.0)


# The reference-solution suites test verdicts, not speed: some references run for seconds (MBPP 123 takes
# 3.5 s of CPU), which the default 10 s per-test limit missed once on a slowed-down shared machine.
REFERENCE_LIMITS = {"timeout": 60.0, "test_timeout": 30.0}


@pytest.fixture(scope="module")
def humaneval_scorer(backend: str, corpus: Callable[[str], Path]) -> Iterator[rk.Scorer]:
    data = {"path": str(corpus("humaneval.jsonl")), "split": "test"}
    yield from _scorer(HumanEvalEnv, backend, data=data, **REFERENCE_LIMITS)


@pytest.fixture(scope="module")
def mbpp_scorer(backend: str, corpus: Callable[[str], Path]) -> Iterator[rk.Scorer]:
    data = {"path": str(corpus("mbpp.jsonl")), "split": "test"}
    yield from _scorer(MbppEnv, backend, data=data, **REFERENCE_LIMITS)
