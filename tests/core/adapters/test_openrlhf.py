"""OpenRLHF adapter: a reward_func file loaded by OpenRLHF's own SingleTurnAgentExecutor (as
`--reward.remote_url /path/reward_func.py` does) and called as its executor calls it."""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = pytest.mark.slow  # importing openrlhf takes seconds


@pytest.fixture
def openrlhf_executor(tmp_path):
    pytest.importorskip("openrlhf", reason="scripts/setup.sh installs OpenRLHF's code (--no-deps)")
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    def load(source: str):
        path = tmp_path / "reward_func.py"
        path.write_text(source, encoding="utf-8")
        return SingleTurnAgentExecutor(remote_rm_url=str(path))

    return load


def _call(executor, queries, prompts, labels):
    """What the executor does with a loaded reward_func: one thread-offloaded call per batch."""
    return asyncio.run(asyncio.to_thread(executor.reward_func, queries, prompts, labels))


def test_math_answers_in_labels(openrlhf_executor):
    executor = openrlhf_executor(
        "from rewardkit.adapters import RewardFunc\n"
        'reward_func = RewardFunc("gsm8k", rubric={"gsm8k": 1.0, "format.think_answer": 0.5})\n'
    )
    prompt = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n"
    responses = ["<think>6 * 7 = 42</think>\n<answer>42</answer><|im_end|>", "<answer>41</answer>"]
    out = _call(executor, [prompt + r for r in responses], [prompt, prompt], ["42", "42"])
    assert out["rewards"].tolist() == [1.5, 0.0]
    assert out["scores"].tolist() == out["rewards"].tolist()
    assert "rewardkit/gsm8k/error_rate" in out["extra_logs"]


def test_serialized_samples_as_labels(openrlhf_executor):
    import rewardkit as rk
    from rewardkit.adapters import to_openrlhf_rows

    executor = openrlhf_executor(
        "from rewardkit.adapters import RewardFunc\nreward_func = RewardFunc('math')\n"
    )
    rows = to_openrlhf_rows(rk.load_environment("math"), limit=2)
    answer = json.loads(rows[0]["label"])["answer"]
    out = _call(
        executor,
        [f"Q<answer>{answer}</answer>", "Q<answer>-1</answer>"],
        ["Q", "Q"],
        [r["label"] for r in rows],
    )
    assert out["rewards"].tolist() == [1.0, 0.0]


def test_a_wrong_environment_fails_when_the_file_loads(openrlhf_executor):
    import rewardkit as rk

    with pytest.raises(rk.UnknownNameError):
        openrlhf_executor("from rewardkit.adapters import RewardFunc\nreward_func = RewardFunc('gsm8kk')\n")
