"""verl adapter: loaded by verl's own `get_custom_reward_fn` (with `reward_kwargs`) and called with the
arguments verl's reward managers pass: keyword arguments per response (NaiveRewardManager, and awaited by
the reward loop), plural lists (BatchRewardManager), plus verl's own call-time extras."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

import rewardkit as rk
from rewardkit.adapters import DATA_SOURCES, SAMPLE_COLUMN, to_verl_rows, verl_compute_score

pytestmark = pytest.mark.slow  # importing verl takes tens of seconds on a loaded machine


@pytest.fixture(scope="module")
def verl_reward():
    pytest.importorskip("verl", reason="scripts/setup.sh installs verl's code (--no-deps)")
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    def load(name: str, **reward_kwargs):
        import rewardkit.adapters.verl as module

        function = {"path": module.__file__, "name": name, "reward_kwargs": reward_kwargs}
        config = OmegaConf.create({"reward": {"custom_reward_function": function}})
        return get_custom_reward_fn(config)

    return load


def _naive_call(fn, data_source, response, ground_truth, extra_info=None):
    """NaiveRewardManager's call, with the extra_info keys it adds."""
    extra_info = {**(extra_info or {}), "num_turns": None, "rollout_reward_scores": {}}
    return fn(
        data_source=data_source, solution_str=response, ground_truth=ground_truth, extra_info=extra_info
    )


def test_standard_data_sources_route_to_the_math_environments(verl_reward):
    fn = verl_reward("verl_compute_score")
    assert _naive_call(fn, "openai/gsm8k", "<answer>72</answer>", "72") == 1.0
    assert _naive_call(fn, "lighteval/MATH", "so \\boxed{\\frac{1}{2}}", "0.5") == 1.0
    assert _naive_call(fn, "aime2024", "<answer>41</answer>", "42") == 0.0
    assert {"openai/gsm8k", "lighteval/MATH", "HuggingFaceH4/MATH-500"} <= set(DATA_SOURCES)


def test_reward_kwargs_set_the_environment_config_and_rubric(verl_reward, echo_host):
    fn = verl_reward(
        "verl_compute_score",
        data_sources={"my/echo": "echo"},
        rubric={"echo": 1.0, "test.short": {"weight": 0.5, "limit": 2}},
    )
    assert _naive_call(fn, "my/echo", "7", "7") == 1.5
    # verl's reward loop passes more keyword arguments; they are accepted, not a TypeError
    assert fn(data_source="my/echo", solution_str="7", ground_truth="7", reward_router_address=None) == 1.5


def test_an_unmapped_data_source_says_how_to_map_it(verl_reward):
    fn = verl_reward("verl_compute_score")
    with pytest.raises(rk.ConfigError, match=r"reward_kwargs\.data_sources"):
        _naive_call(fn, "searchR1_nq", "x", "y")


def test_errors_and_inapplicable_rows_score_zero(echo_host):
    assert verl_compute_score("echo", "raise", "3") == 0.0
    assert verl_compute_score("echo", "skip", "3") == 0.0


def test_batch_form_scores_each_environment_as_a_batch(verl_reward, echo_host):
    fn = verl_reward("verl_compute_score_batch")
    scores = fn(
        data_sources=["echo", "openai/gsm8k", "echo"],
        solution_strs=["1", "<answer>5</answer>", "no"],
        ground_truths=["1", "5", "2"],
        extra_infos=[{}, {}, {}],
    )
    assert scores == [1.0, 1.0, 0.0]


def test_async_form_for_the_reward_loop(verl_reward, echo_host):
    fn = verl_reward("verl_compute_score_async")

    async def reward_loop():
        return await asyncio.gather(
            *(fn(data_source="echo", solution_str=str(i), ground_truth="1", extra_info={}) for i in range(3))
        )

    assert asyncio.run(reward_loop()) == [0.0, 1.0, 0.0]


def test_rows_made_for_verl_carry_their_samples(verl_reward, echo_host):
    rows = to_verl_rows(rk.load_environment("echo"), limit=2)
    assert rows[1]["data_source"] == "echo" and SAMPLE_COLUMN in rows[1]["extra_info"]
    fn = verl_reward("verl_compute_score")
    row = rows[1]
    assert (
        _naive_call(fn, row["data_source"], "1", row["reward_model"]["ground_truth"], row["extra_info"])
        == 1.0
    )
    assert json.loads(row["extra_info"][SAMPLE_COLUMN])["id"] == "train-1"
    assert Path(sys.modules["rewardkit.adapters.verl"].__file__).is_file()


def test_code_rows_run_on_the_fleet_verl_names(verl_reward):
    """verl passes `sandbox_fusion_url` for its code data sources; their ground truth is APPS-style."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "sandbox"))
    from sandboxfusion_stub import SandboxFusionStub

    fn = verl_reward("verl_compute_score")
    truth = json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]})
    right = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    with SandboxFusionStub() as fleet:
        scores = [
            fn(
                data_source="codecontests",
                solution_str=s,
                ground_truth=truth,
                extra_info={},
                sandbox_fusion_url=fleet.url,
                concurrent_semaphore=None,
                memory_limit_mb=1024,
            )
            for s in (right, "```python\nprint(0)\n```")
        ]
        assert fleet.requests
    assert scores == [1.0, 0.0]
