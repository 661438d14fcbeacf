"""The `transformers` backend with a tiny local model: batching, choice verdicts, cache, dedup, contract."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rewardkit import Scorer, make_rubric
from rewardkit.host import PluginHost
from rewardkit.plugins.judge.cache import ReplyCache
from rewardkit.plugins.judge.config import JudgeSettings
from rewardkit.plugins.judge.env import JudgeEnv
from rewardkit.plugins.judge.judge import Judge
from rewardkit.testing import check_environment


def local(tiny_model: Path, cache_path: str | None, **values: Any) -> dict[str, Any]:
    backend = {"kind": "transformers", "model": str(tiny_model), "batch_size": 8}
    cache = {"cache_path": cache_path} if cache_path else {"cache": False}
    return {"backend": backend, "max_response_chars": 1500, **cache, **values}


def test_choice_verdicts_are_valid_deterministic_and_batched(tiny_model: Path) -> None:
    env = JudgeEnv(local(tiny_model, None, verdict="choice", exact_match_shortcut=False))
    samples = list(env.dataset("train"))[:6]
    completions = ["Paris", "seven", "144", "Venus", "CO2", "Austen"]
    with Scorer(env) as scorer:
        first = scorer.score_batch_sync(samples, completions)
        shuffled = scorer.score_batch_sync(samples[::-1][:3], completions[::-1][:3])
    assert all(r.error is None and 0.0 <= r.score <= 1.0 for r in first)
    assert all(r.info["verdict"] in ("yes", "no") for r in first)
    assert abs(sum(first[0].info["probabilities"].values()) - 1.0) < 1e-6
    # A completion's score does not depend on which others share its batch.
    assert [r.score for r in shuffled] == [r.score for r in first[::-1][:3]]
    backend: Any = env.judge.backend
    assert backend.batches < len(samples) + 3  # several requests per forward pass
    assert env.judge.stats.prompt_tokens > 0  # usage is reported


def test_text_verdicts_from_a_random_model_are_errors_not_zeros(tiny_model: Path) -> None:
    env = JudgeEnv(local(tiny_model, None, verdict="text", sampling={"max_tokens": 12}))
    samples = list(env.dataset("train"))[:3]
    with Scorer(env) as scorer:
        results = scorer.score_batch_sync(samples, ["wrong", "also wrong", "nope"])
    for result in results:
        # The tiny random model writes noise: unparseable, so an error outcome; never a silent 0.
        assert (result.score is None and "unparseable" in result.error) or 0.0 <= result.score <= 1.0
    assert env.judge.stats.completion_tokens > 0


def test_too_long_prompts_are_error_outcomes(tiny_model: Path) -> None:
    values = local(tiny_model, None, verdict="choice", max_response_chars=5000)
    values["backend"]["max_input_tokens"] = 256
    env = JudgeEnv(values)
    sample = next(iter(env.dataset("train")))
    with Scorer(env) as scorer:
        [result] = scorer.score_batch_sync([sample], ["word " * 3000])
    assert result.score is None and "tokens > 256" in result.error and result.info["failure"] == "input"


def test_cache_answers_a_rescore_without_running_the_model(tiny_model: Path, cache_path: str) -> None:
    settings = JudgeSettings.model_validate(local(tiny_model, cache_path, verdict="choice"))
    samples = list(JudgeEnv(settings.model_dump()).dataset("train"))[:4]
    completions = ["London", "six", "121", "Jupiter"]
    first_judge = Judge(settings)
    first = asyncio.run(first_judge.score_many(samples, completions))
    backend: Any = first_judge.backend
    batches = backend.batches
    # Same judge: every reply comes from the cache; the model is not called again.
    again = asyncio.run(first_judge.score_many(samples, completions))
    assert backend.batches == batches and first_judge.stats.cache_hits == 4
    assert [r.score for r in again] == [r.score for r in first]
    assert all(r.info["source"] == "cache" and r.components["prompt_tokens"] == 0 for r in again)
    # A fresh process-like judge on the same file: still no model call (weights are never even loaded).
    second_judge = Judge(settings)
    assert [r.score for r in asyncio.run(second_judge.score_many(samples, completions))] == [
        r.score for r in first
    ]
    assert second_judge.stats.requests == 0 and len(ReplyCache(cache_path)) == 4


def test_identical_requests_in_a_batch_are_judged_once(tiny_model: Path) -> None:
    judge = Judge(JudgeSettings.model_validate(local(tiny_model, None, verdict="choice")))
    sample = next(iter(JudgeEnv(judge.settings.model_dump()).dataset("train")))
    group = ["Lyon"] * 6 + ["Marseille"] * 2  # a GRPO group with repeated completions
    results = asyncio.run(judge.score_many([sample] * 8, group))
    assert judge.stats.requests == 2 and judge.stats.deduplicated == 6
    assert len({r.score for r in results[:6]}) == 1


def test_concurrent_single_calls_share_batches_and_in_flight_requests(tiny_model: Path) -> None:
    judge = Judge(JudgeSettings.model_validate(local(tiny_model, None, verdict="choice", batch_window=0.02)))
    sample = next(iter(JudgeEnv(judge.settings.model_dump()).dataset("train")))

    async def go() -> list[Any]:
        return list(await asyncio.gather(*(judge.score(sample, c) for c in ["a", "b", "c", "a"])))

    results = asyncio.run(go())
    backend: Any = judge.backend
    assert backend.batches == 1 and judge.stats.requests == 3
    assert results[0].score == results[3].score


def test_judge_env_passes_the_contract(tiny_model: Path, cache_path: str) -> None:
    env = JudgeEnv(local(tiny_model, cache_path, verdict="choice"))
    report = check_environment(env)  # gold = the reference answer
    assert report.passed, report.summary()


def test_plugin_registers_env_and_reward_usable_in_a_rubric(tiny_model: Path) -> None:
    host = PluginHost().load_entry_points(allow=["judge"])
    assert host.plugins["judge"].status == "ok"
    assert host.environment("judge").cls is JudgeEnv
    params = local(tiny_model, None, verdict="choice", template="rubric", scale=[1, 5])
    rubric = make_rubric({"judge.score": {"weight": 0.5, **params}}, host=host)
    env = JudgeEnv(local(tiny_model, None, verdict="choice"))
    samples = list(env.dataset("train"))[:2]
    with Scorer(env, rubric=rubric) as scorer:
        results = scorer.score_batch_sync(samples, ["Paris is the capital.", "Eight legs."])
    assert all(r.error is None and 0.0 <= r.score <= 0.5 for r in results)
    assert all(0.0 <= r.components["judge.score"] <= 1.0 for r in results)


def test_judge_score_reward_passes_the_reward_contract(tiny_model: Path, cache_path: str) -> None:
    from rewardkit.testing.contract import check_reward

    host = PluginHost().load_entry_points(allow=["judge"])
    params = local(tiny_model, cache_path, verdict="choice")
    samples = list(JudgeEnv(params).dataset("train"))[:3]
    gold = lambda s: str(s.answer)  # noqa: E731
    # A CPU judge on a loaded machine can take more than the default 10 s for a batch.
    report = check_reward("judge.score", gold=gold, params=params, samples=samples, host=host, timeout=60)
    assert report.passed, report.summary()


def test_bad_judge_params_fail_when_the_rubric_is_built() -> None:
    import pytest

    import rewardkit as rk

    with pytest.raises(
        rk.ConfigError, match=r"judge\.score\.config\.templat: unknown field; did you mean 'template'"
    ):
        rk.make_rubric({"judge.score": {"weight": 1.0, "templat": "rubric"}})
