"""TRL adapter: called the way GRPOTrainer calls a reward function (keyword arguments: prompts,
completions, completion_ids, trainer_state and every extra dataset column)."""

from __future__ import annotations

import json

import rewardkit as rk
from rewardkit.adapters import SAMPLE_COLUMN, to_hf_dataset, trl_reward_func

TRL_EXTRAS = {"completion_ids": [[1], [2], [3]], "trainer_state": object()}


def test_trl_reward_func_with_serialized_samples_and_conversational_completions(echo_host):
    env = rk.load_environment("echo")
    dataset = to_hf_dataset(env)
    assert dataset.column_names == ["prompt", SAMPLE_COLUMN]
    reward = trl_reward_func(env)
    completions = [[{"role": "assistant", "content": text}] for text in ["0", "nope", "raise"]]
    scores = reward(
        prompts=dataset["prompt"],
        completions=completions,
        **TRL_EXTRAS,
        **{SAMPLE_COLUMN: dataset[SAMPLE_COLUMN]},
    )
    assert scores == [1.0, 0.0, None]


def test_trl_reward_func_with_plain_columns_and_a_rubric(echo_host):
    reward = trl_reward_func("echo", rubric={"echo": 1.0, "test.short": {"weight": 0.5, "limit": 2}})
    extras = {"completion_ids": [[1], [2]], "trainer_state": None}
    scores = reward(prompts=["q", "q"], completions=["7", "long answer"], answer=["7", "7"], **extras)
    assert scores == [1.5, 0.0]


def test_every_reward_function_gets_a_distinct_metric_name(echo_host):
    """TRL logs `rewards/<__name__>/mean`: two functions with one name would share (and garble) a metric."""
    plain = trl_reward_func("echo")
    shaped = trl_reward_func("echo", rubric={"echo": 1.0, "test.short": 0.5})
    again = trl_reward_func("echo")
    named = trl_reward_func("echo", name="accuracy")
    names = [f.__name__ for f in (plain, shaped, again, named)]
    assert len(set(names)) == 4
    assert names[1] == "echo+test_short" or names[1].startswith("echo+test_short_")
    assert named.__name__.startswith("accuracy")


def test_serialized_sample_round_trips(echo_host):
    row = to_hf_dataset(rk.load_environment("echo"), limit=1)[0]
    assert rk.Sample.from_dict(json.loads(row[SAMPLE_COLUMN])).answer == "0"
