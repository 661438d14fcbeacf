"""The example plugin's own tests, as a plugin author would write them."""

import pytest
from rewardkit_wordcount import WordCount

import rewardkit as rk
from rewardkit.testing import check_environment


def gold(sample: rk.Sample) -> str:
    return " ".join(["word"] * sample.answer)


def test_passes_the_contract() -> None:
    report = check_environment(WordCount(), gold=gold)
    assert report.passed


def test_discovered_through_its_entry_point() -> None:
    assert "wordcount" in rk.list_environments()
    plugin = next(p for p in rk.get_plugins() if p.name == "wordcount")
    assert plugin.distribution == "rewardkit-wordcount"
    assert plugin.environments == ["wordcount"]


def test_scores_by_distance_to_target() -> None:
    env = rk.load_environment("wordcount", target=10)
    sample = next(iter(env.dataset("train")))
    with rk.Scorer(env) as scorer:
        exact, half = scorer.score_batch_sync([sample, sample], [gold(sample), "w " * 5])
    assert exact.score == 1.0
    assert half.score == 0.5
    assert half.components == {"words": 5}


def test_config_typo_names_the_field() -> None:
    expected = r"wordcount\.config\.targte: unknown field; did you mean .target."
    with pytest.raises(rk.ConfigError, match=expected):
        rk.load_environment("wordcount", targte=3)
