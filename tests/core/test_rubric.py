"""Rubrics: weights, zero-weight metrics, sync/async items, registered rewards by name, config errors."""

from __future__ import annotations

import pytest
import yaml

import rewardkit as rk
from rewardkit.scoring import Scorer


def sample(answer="7"):
    return rk.Sample(id="s", prompt=[rk.user("q")], answer=answer)


async def score_with(rubric, completion, answer="7"):
    return await rubric.score(sample(answer), completion, timeout=1.0)


def test_weighted_sum_keeps_every_component_including_zero_weight_metrics():
    rubric = rk.Rubric().add("exact", lambda s, c: float(c == s.answer), 1.0)
    rubric.add("short", lambda s, c: float(len(c) < 3), 0.5).add("length", lambda s, c: len(c) / 10, 0.0)
    import asyncio

    result = asyncio.run(score_with(rubric, "7"))
    assert result.score == pytest.approx(1.5)
    assert result.components == {"exact": 1.0, "short": 1.0, "length": 0.1}
    assert rubric.reward_range == (0.0, 1.5)


def test_none_items_are_excluded_and_all_none_is_none():
    import asyncio

    rubric = rk.Rubric().add("a", lambda s, c: None, 1.0).add("b", lambda s, c: 0.25, 2.0)
    assert asyncio.run(score_with(rubric, "x")).score == 0.5
    only_none = rk.Rubric().add("a", lambda s, c: None)
    assert asyncio.run(score_with(only_none, "x")).skipped


def test_a_failing_item_makes_the_outcome_an_error_not_a_partial_sum():
    import asyncio

    def broken(s, c):
        raise ValueError("boom")

    rubric = rk.Rubric().add("good", lambda s, c: 1.0).add("bad", broken, 0.5)
    result = asyncio.run(score_with(rubric, "x"))
    assert result.score is None
    assert result.error == "bad raised ValueError: boom"
    assert result.components == {"good": 1.0}


def test_rubric_from_yaml_resolves_registered_rewards_and_the_env_itself(echo_host):
    spec = yaml.safe_load("""
        echo: 1.0
        test.exact: 0.5
        test.short: {weight: 0.0, limit: 3}
    """)
    env = rk.load_environment("echo")
    rubric = rk.make_rubric(spec, env=env)
    assert rubric.weights == {"echo": 1.0, "test.exact": 0.5, "test.short": 0.0}
    with Scorer(env, rubric=rubric) as scorer:
        result = scorer.score_sync(rk.Sample("s", [rk.user("q")], answer="1"), "1")
    assert result.score == 1.5
    assert result.components == {"echo": 1.0, "echo/length": 1, "test.exact": 1.0, "test.short": 1.0}


def test_rubric_config_errors_name_the_entry(echo_host):
    with pytest.raises(
        rk.ConfigError, match=r"rubric\.test\.exactt: unknown reward .*Did you mean 'test.exact'"
    ):
        rk.make_rubric({"test.exactt": 1.0})
    with pytest.raises(rk.ConfigError, match=r"rubric\.test\.short: parameters \['limt'\] do not fit"):
        rk.make_rubric({"test.short": {"weight": 1, "limt": 3}})
    with pytest.raises(rk.ConfigError, match=r"rubric\.test\.exact\.weight: expected a number"):
        rk.make_rubric({"test.exact": {"weight": "heavy"}})
    with pytest.raises(rk.ConfigError, match="rubric: empty"):
        rk.make_rubric({})


def test_rewards_can_validate_their_params_when_the_rubric_is_built():
    def scaled(sample, completion, **params):
        return 1.0

    def validate(params):
        if params.get("scale", 1) <= 0:
            raise ValueError("scale: must be positive")

    scaled.validate_params = validate
    rk.Rubric().add("scaled", scaled, scale=2)
    with pytest.raises(rk.ConfigError, match=r"rubric\.scaled: scale: must be positive"):
        rk.Rubric().add("scaled", scaled, scale=0)
