"""TRL and verl adapters: called the way those trainers call them."""

from __future__ import annotations

import json

import pytest

import rewardkit as rk
from rewardkit.adapters import SAMPLE_COLUMN, to_hf_dataset, trl_reward_func, verl_compute_score


def test_trl_reward_func_with_serialized_samples_and_conversational_completions(echo_host):
    env = rk.load_environment("echo")
    dataset = to_hf_dataset(env)
    assert dataset.column_names == ["prompt", SAMPLE_COLUMN]
    reward = trl_reward_func(env)
    completions = [[{"role": "assistant", "content": text}] for text in ["0", "nope", "raise"]]
    scores = reward(
        prompts=dataset["prompt"], completions=completions, **{SAMPLE_COLUMN: dataset[SAMPLE_COLUMN]}
    )
    assert scores == [1.0, 0.0, None]
    assert reward.__name__ == "echo"


def test_trl_reward_func_with_plain_columns_and_a_rubric(echo_host):
    reward = trl_reward_func("echo", rubric={"echo": 1.0, "test.short": {"weight": 0.5, "limit": 2}})
    scores = reward(prompts=["q", "q"], completions=["7", "long answer"], answer=["7", "7"])
    assert scores == [1.5, 0.0]


def test_verl_compute_score_routes_by_data_source(echo_host):
    assert verl_compute_score("echo", "3", "3") == 1.0
    assert verl_compute_score("echo", "raise", "3") == 0.0
    with pytest.raises(rk.UnknownNameError):
        verl_compute_score("nope", "x", "y")


def test_serialized_sample_round_trips(echo_host):
    row = to_hf_dataset(rk.load_environment("echo"), limit=1)[0]
    assert rk.Sample.from_dict(json.loads(row[SAMPLE_COLUMN])).answer == "0"
