"""The plugin against the installed reasoning-gym: every task registered, strict scores, and the contract
kit (with hedged answers) over every task, whose failures are exactly the tasks the plugin marks."""

from __future__ import annotations

import pickle

import pytest
from rewardkit_reasoning_gym.tasks import EXACT, GAMEABLE, NO_REFERENCE, TASKS

import rewardkit as rk
from rewardkit.host import PluginHost
from rewardkit.testing import check_environment

reasoning_gym = pytest.importorskip("reasoning_gym")


def test_the_task_list_is_the_installed_releases() -> None:
    from reasoning_gym.factory import DATASETS

    assert set(TASKS) == set(DATASETS) - {"composite"}  # composite mixes tasks; configs mix environments
    assert EXACT | set(GAMEABLE) | set(NO_REFERENCE) <= set(TASKS)


def test_every_task_is_an_installed_environment() -> None:
    host = PluginHost().load_entry_points(allow=["reasoning_gym"])
    assert {f"reasoning_gym.{task}" for task in TASKS} <= set(host.environments)
    assert not host.load_errors()


def test_a_sample_scores_strictly_and_keeps_the_native_score() -> None:
    env = rk.load_environment("reasoning_gym.leg_counting", size=3)
    sample = next(iter(env.dataset("train")))
    with rk.Scorer(env) as scorer:
        right, hedged, untagged = scorer.score_batch_sync(
            [sample] * 3,
            [
                f"<think>count</think><answer>{sample.answer}</answer>",
                f"<answer>{sample.answer} 7</answer>",
                str(sample.answer),
            ],
        )
    assert right.score == 1.0
    assert hedged.score == 0.0 and 0 < hedged.components["task_score"] < 1  # the partial credit strict drops
    assert untagged.score == 0.0 and untagged.info["reason"] == "no <answer> block"


def test_the_native_scorer_is_opt_in() -> None:
    env = rk.load_environment("reasoning_gym.leg_counting", size=1, scoring="reasoning_gym")
    sample = next(iter(env.dataset("train")))
    with rk.Scorer(env) as scorer:
        result = scorer.score_sync(sample, f"<answer>{sample.answer} 7</answer>")
    assert 0 < result.score < 1


def test_splits_are_seeded_and_distinct() -> None:
    env = rk.load_environment("reasoning_gym.basic_arithmetic", size=5, seed=3)
    train, again = list(env.dataset("train")), list(env.dataset("train"))
    assert train == again
    assert {s.prompt[-1]["content"] for s in train}.isdisjoint(
        s.prompt[-1]["content"] for s in env.dataset("test")
    )
    endless = rk.load_environment("reasoning_gym.basic_arithmetic")
    assert len([s for _, s in zip(range(700), endless.dataset("train"), strict=False)]) == 700


def test_gameable_tasks_are_refused_unless_allowed() -> None:
    with pytest.raises(rk.ConfigError, match="allow_gameable"):
        rk.load_environment("reasoning_gym.sokoban")
    assert rk.load_environment("reasoning_gym.sokoban", allow_gameable=True).config.allow_gameable


def test_bad_task_params_name_the_field() -> None:
    env = rk.load_environment("reasoning_gym.basic_arithmetic", params={"no_such_knob": 1})
    with pytest.raises(rk.ConfigError, match=r"reasoning_gym.basic_arithmetic.config.params"):
        next(iter(env.dataset("train")))


def test_environments_pickle() -> None:
    env = rk.load_environment("reasoning_gym.leg_counting", size=2, seed=4)
    copy = pickle.loads(pickle.dumps(env))
    assert type(copy) is type(env) and list(copy.dataset("train")) == list(env.dataset("train"))


@pytest.mark.slow
def test_the_contract_fails_exactly_on_the_marked_tasks() -> None:
    failed: dict[str, list[str]] = {}
    for task in TASKS:
        env = rk.load_environment(f"reasoning_gym.{task}", size=3, allow_gameable=True)
        report = check_environment(env, hedges=True, n_samples=3, raise_on_failure=False)
        if not report.passed:
            failed[task] = [result.name for result in report.failures]
    assert set(failed) == set(GAMEABLE) | set(NO_REFERENCE), failed
    assert all(any("hedged" in name for name in failed[task]) for task in GAMEABLE)
    assert all(any("gold" in name for name in failed[task]) for task in NO_REFERENCE)
