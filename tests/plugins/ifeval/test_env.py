import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rewardkit import Sample, Scorer, user
from rewardkit.plugins.ifeval.env import IFEval, aggregate
from rewardkit.plugins.ifeval.reward import instructions
from rewardkit.testing import check_environment

DATA = Path(__file__).resolve().parents[2] / "data" / "ifeval"
GOLD = {json.loads(line)["key"]: json.loads(line)["gold"] for line in (DATA / "gold.jsonl").open()}


def gold_env(**config: object) -> IFEval:
    return IFEval(data={"path": str(DATA / "gold.jsonl")}, **config)


def test_contract_with_gold_responses_for_every_instruction_type() -> None:
    report = check_environment(gold_env(), gold=lambda s: GOLD[s.info["key"]], n_samples=len(GOLD))
    assert report.passed, report.summary()


@pytest.mark.parametrize("metric", ["prompt_loose", "instruction_strict", "instruction_loose"])
def test_contract_for_each_score_metric(metric: str) -> None:
    env = gold_env(score=metric)
    assert check_environment(env, gold=lambda s: GOLD[s.info["key"]], n_samples=3).passed


def test_loads_the_541_ifeval_prompts(corpus: Callable[[str], Path]) -> None:
    env = IFEval(data={"path": str(corpus("ifeval_input.jsonl"))})
    samples = list(env.dataset("train"))
    assert len(samples) == 541
    assert len({s.id for s in samples}) == 541
    ids = {i for s in samples for i in s.info["instruction_id_list"]}
    assert len(ids) == 25
    first = samples[0]
    assert first.info["kwargs"][0] == {}  # empty kwargs stay empty; falsy values are dropped


def test_hub_style_rows_through_datasets(tmp_path: Path) -> None:
    # Hub rows carry every kwargs key, None where unused; they load through `datasets` (not the JSONL path)
    keys = ["num_words", "relation", "keywords", "language"]
    row = {
        "key": 1,
        "prompt": "Say hi in at least 2 words.",
        "instruction_id_list": ["length_constraints:number_words"],
        "kwargs": [{**dict.fromkeys(keys), "num_words": 2, "relation": "at least"}],
    }
    path = tmp_path / "ifeval.json"
    path.write_text(json.dumps(row) + "\n")
    env = IFEval(data={"path": str(path)})
    (sample,) = list(env.dataset("train"))
    assert sample.info["kwargs"] == [{"num_words": 2, "relation": "at least"}]
    with Scorer(env) as scorer:
        assert scorer.score_sync(sample, "hello there").score == 1.0
        assert scorer.score_sync(sample, "hello").score == 0.0


def test_components_and_strict_versus_loose() -> None:
    env = gold_env()
    sample = next(s for s in env.dataset("train") if s.info["key"] == 9100)
    with Scorer(env) as scorer:
        # a chatty first line breaks nothing here; a comma breaks no_comma in strict and loose alike
        result = scorer.score_sync(sample, "<<Sea>>\nThe sea, calm. Peace.")
        assert result.score == 0.0
        assert result.components["instruction_strict"] == pytest.approx(2 / 3)
        assert result.components["instructions"] == 3.0
        # a trailing line after the end phrase fails strict, passes loose (last line dropped)
        loose_only = scorer.score_sync(sample, "<<Sea>>\nThe sea is calm. Peace.\nThanks for asking")
        assert loose_only.components["prompt_strict"] == 0.0
        assert loose_only.components["prompt_loose"] == 1.0


def test_reasoning_is_stripped_before_checking() -> None:
    env = gold_env()
    sample = next(
        s for s in env.dataset("train") if s.info["instruction_id_list"] == ["punctuation:no_comma"]
    )
    with Scorer(env) as scorer:
        assert scorer.score_sync(sample, "<think>hmm, well, ok</think>No commas here.").score == 1.0
    with Scorer(gold_env(strip_reasoning=False)) as scorer:
        assert scorer.score_sync(sample, "<think>hmm, well, ok</think>No commas here.").score == 0.0


def test_bad_instruction_data_is_an_error_not_a_zero() -> None:
    env = gold_env()
    bad = Sample("x", [user("hi")], info={"instruction_id_list": ["no:such"], "kwargs": [{}]})
    missing = Sample(
        "y", [user("hi")], info={"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{}]}
    )
    with Scorer(env) as scorer:
        results = scorer.score_batch_sync([bad, missing], ["a", "b"])
    assert all(r.score is None and r.error for r in results)


def test_aggregate_pools_instructions_over_prompts() -> None:
    env = gold_env()
    samples = list(env.dataset("train"))
    with Scorer(env) as scorer:
        results = scorer.score_batch_sync(samples, [GOLD[s.info["key"]] for s in samples])
        empty = scorer.score_batch_sync(samples, [""] * len(samples))
    assert aggregate(results) == {
        "prompt_level_strict_acc": 1.0,
        "inst_level_strict_acc": 1.0,
        "prompt_level_loose_acc": 1.0,
        "inst_level_loose_acc": 1.0,
    }
    assert aggregate(empty)["prompt_level_strict_acc"] == 0.0  # an empty response follows nothing


def test_instructions_reward_for_other_environments() -> None:
    sample = Sample("s", [user("x")], info={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]})
    result = instructions(sample, "no commas")
    assert result is not None
    assert result.score == 1.0
    assert instructions(Sample("t", [user("x")]), "anything") is None
