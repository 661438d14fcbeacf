import asyncio
import itertools

import pytest

import rewardkit
from rewardkit.errors import ConfigError
from rewardkit.plugins.math.env import MathEnv
from rewardkit.plugins.math.rewards import accuracy
from rewardkit.testing import check_environment

from .conftest import data_file, read_jsonl


def gsm8k_local() -> rewardkit.Environment:
    source = {"path": str(data_file("gsm8k_test_200.jsonl")), "split": "test"}
    return rewardkit.load_environment("gsm8k", data=source)


def math500_local() -> rewardkit.Environment:
    source = {
        "path": str(data_file("math500_100.jsonl")),
        "split": "test",
        "columns": {"question": "problem"},
    }
    return rewardkit.load_environment("math500", data=source)


def test_registered_through_the_entry_point() -> None:
    names = rewardkit.list_environments()
    assert {"math", "gsm8k", "math500", "math.procedural"} <= set(names)
    host = rewardkit.host.get_host()
    assert host.reward("math.accuracy").plugin == "math"


def test_gsm8k_preset_takes_the_answer_after_hashes() -> None:
    env = gsm8k_local()
    samples = list(itertools.islice(env.dataset("test"), 200))
    rows = read_jsonl(data_file("gsm8k_test_200.jsonl"), limit=200)
    assert [s.answer for s in samples] == [r["final_answer"] for r in rows]
    assert samples[0].prompt[0]["role"] == "system" and "Janet" in samples[0].prompt[-1]["content"]
    assert len({s.id for s in samples}) == 200


def test_math500_preset_maps_columns_and_keeps_metadata() -> None:
    sample = next(iter(math500_local().dataset("test")))
    assert sample.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert sample.id == "test-test/precalculus/807.json"
    assert sample.info["subject"] == "Precalculus"


def test_prompt_is_configurable() -> None:
    env = rewardkit.load_environment("math", prompt={"system_prompt": None, "template": "Q: {question}"})
    sample = next(iter(env.dataset("train")))
    assert len(sample.prompt) == 1 and sample.prompt[0]["content"].startswith("Q: ")


def test_config_typos_are_errors() -> None:
    with pytest.raises(ConfigError):
        rewardkit.load_environment("math", gradng={})
    with pytest.raises(ConfigError):
        rewardkit.load_environment("math", grading={"extraction": ["boxd"]})


@pytest.mark.parametrize("make", [lambda: rewardkit.load_environment("math"), gsm8k_local, math500_local])
def test_contract(make) -> None:
    env = make()
    split = "test" if env.name != "math" else "train"
    check_environment(env, split=split, n_samples=8)


def test_wrong_answers_score_zero_and_results_explain_why() -> None:
    env = math500_local()
    sample = next(iter(env.dataset("test")))
    with rewardkit.Scorer(env) as scorer:
        good, bad = scorer.score_batch_sync([sample] * 2, ["\\boxed{(3, \\pi/2)}", "\\boxed{(3, \\pi)}"])
    assert (good.score, bad.score) == (1.0, 0.0)
    assert good.info["verdict"] == "symbolic" and good.info["strategy"] == "boxed"


def test_math_env_is_a_subclass_for_presets() -> None:
    assert issubclass(type(gsm8k_local()), MathEnv)


def test_every_math_environment_and_the_reward_score_alike() -> None:
    """`math`, `math.procedural` and the `math.accuracy` reward share one scoring path: same verdicts."""
    sample = rewardkit.Sample(id="s", prompt=[rewardkit.user("Give <answer> tags.")], answer="\\frac{1}{2}")
    completions = ["<answer>0.5</answer>", "<answer>50%</answer>", "\\boxed{3} no, \\boxed{1/2}", "1/2", "2"]
    grading = {"rel_tol": 0.0}
    envs = [rewardkit.load_environment(name, grading=grading) for name in ("math", "math.procedural")]
    with rewardkit.Scorer(envs[0]) as plain, rewardkit.Scorer(envs[1]) as procedural:
        for completion in completions:
            results = [scorer.score_sync(sample, completion) for scorer in (plain, procedural)]
            results.append(asyncio.run(accuracy(sample, completion, **grading)))
            outcomes = {(r.score, r.info.get("verdict"), r.info.get("strategy")) for r in results}
            assert len(outcomes) == 1, (completion, outcomes)
