"""NeMo RL adapter, called as NeMo RL calls an `EnvironmentInterface` (nemo_rl is not pip-installable on CPU,
so its documented calls are replayed): `create_env` builds the registered actor class with
`.options(runtime_env=...).remote(config)`, `calculate_rewards` sends `step.remote(message_logs,
extra_env_infos)` and unpacks the `EnvironmentReturn` by position, and the run ends with
`shutdown.remote()`."""

from __future__ import annotations

import importlib
import json
import os
import sys

import pytest

import rewardkit as rk
from rewardkit.adapters.common import SAMPLE_COLUMN
from rewardkit.adapters.nemo_rl import NemoRLEnvironment

torch = pytest.importorskip("torch")
FQN = "rewardkit.adapters.nemo_rl.NemoRLEnvironmentActor"


def conversation(question: str, reply: str) -> list[dict[str, str]]:
    """A message log as NeMo RL hands it to step: role and content of each message."""
    return [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]


def batch() -> tuple[list, list]:
    sample = next(iter(rk.load_environment("math.procedural").dataset("train")))  # offline samples
    logs = [
        conversation("What is 6 * 7?", "<think>6 * 7 = 42</think><answer>42</answer>"),
        conversation("What is 6 * 7?", "<answer>41</answer>"),
        conversation(sample.prompt[-1]["content"], f"<answer>{sample.answer}</answer>"),
    ]
    infos = [
        {"ground_truth": "42"},  # NeMo RL's math data processors write this
        {"answer": "42", "info": {"source": "toy"}},
        {SAMPLE_COLUMN: json.dumps(sample.to_dict())},
    ]
    return logs, infos


def test_step_scores_replies_and_ends_every_episode():
    env = NemoRLEnvironment({"env": "gsm8k", "rubric": {"gsm8k": 1.0, "format.think_answer": 0.5}})
    try:
        logs, infos = batch()
        observations, metadata, stops, rewards, terminateds, answers = env.step(logs, infos)
        assert rewards.dtype == torch.float32 and rewards.tolist() == [1.5, 0.0, 1.0]
        assert terminateds.tolist() == [True, True, True] and stops == [None] * 3
        assert answers[:2] == ["42", "41"]
        assert [o["role"] for o in observations] == ["environment"] * 3
        assert metadata[1]["answer"] == "42" and metadata[1]["info"] == {"source": "toy"}
        assert metadata[0]["rewardkit"]["components"] == {"gsm8k": 1.0, "format.think_answer": 1.0}

        _, metrics = env.global_post_process_and_metrics(
            {"rewards": rewards, "is_end": torch.tensor([1, 1, 0])}
        )
        assert metrics["reward_mean"] == pytest.approx(0.5)  # the unfinished rollout counts 0
        assert metrics["rewardkit/gsm8k/error_rate"] == 0.0 and metrics["rewardkit/gsm8k/skip_rate"] == 0.0
        assert env.global_post_process_and_metrics({})[1] == {}  # outcomes are counted once
    finally:
        env.shutdown()


def test_mistakes_are_one_line_errors():
    with pytest.raises(rk.ConfigError, match=r"rubrik"):
        NemoRLEnvironment({"env": "gsm8k", "rubrik": {"gsm8k": 1.0}})
    with pytest.raises(rk.ConfigError, match=r"env: retry is an episode environment"):
        NemoRLEnvironment({"env": "retry"})
    env = NemoRLEnvironment({"env": "gsm8k"})
    try:
        with pytest.raises(ValueError, match=r"metadata\[0\]: a gsm8k sample is missing 'answer'"):
            env.step([conversation("?", "<answer>1</answer>")], [{"gold": "1"}])
    finally:
        env.shutdown()


@pytest.mark.slow
def test_nemo_rl_creates_steps_and_shuts_down_the_actor():
    ray = pytest.importorskip("ray")
    module, _, name = FQN.rpartition(".")
    actor_class = getattr(importlib.import_module(module), name)  # what NeMo RL's get_object does
    ray.init(num_cpus=1, object_store_memory=100 << 20, include_dashboard=False, log_to_driver=False)
    try:
        env = actor_class.options(
            runtime_env={"py_executable": sys.executable, "env_vars": dict(os.environ)}
        ).remote({"env": "gsm8k", "rubric": {"gsm8k": 1.0, "format.think_answer": 0.5}})
        logs, infos = batch()
        futures = [env.step.remote(logs[:2], infos[:2]), env.step.remote(logs[2:], infos[2:])]
        returns = ray.get(futures)
        rewards = torch.cat([rewards for _, _, _, rewards, _, _ in returns])
        assert rewards.tolist() == [1.5, 0.0, 1.0]
        assert all(terminateds.all() for _, _, _, _, terminateds, _ in returns)
        _, metrics = ray.get(env.global_post_process_and_metrics.remote({"rewards": rewards}))
        assert metrics["reward_mean"] == pytest.approx(2.5 / 3)
        assert metrics["rewardkit/gsm8k/error_rate"] == 0.0
        ray.get(env.shutdown.remote(), timeout=60)
    finally:
        ray.shutdown()
