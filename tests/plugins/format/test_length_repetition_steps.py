import pytest

import rewardkit as rk
from rewardkit.plugins.format.length import length, overlong
from rewardkit.plugins.format.repetition import repetition
from rewardkit.plugins.format.steps import reasoning_steps
from rewardkit.plugins.format.text import count_words


def words(n: int) -> str:
    return " ".join(["word"] * n)


def test_count_words_handles_cjk() -> None:
    assert count_words("hello world") == 2
    assert count_words("我今天很好 ok") == 6


def test_length_band() -> None:
    assert length(None, words(150), min=100, max=200).score == 1.0
    assert length(None, words(50), min=100, max=200).score == 0.5
    assert length(None, words(300), min=100, max=200).score == 0.5
    assert length(None, words(500), min=100, max=200).score == 0.0
    assert length(None, words(10), target=20).score == 0.5
    assert length(None, "abcd", max=2, unit="chars").score == 0.0
    assert length(None, words(3), max=10).components == {"length": 3.0}


def test_length_needs_a_bound() -> None:
    assert length(None, "x").error is not None
    assert length(None, "x", overlong=4).error is not None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "give target, or min and/or max"),
        ({"overlong": 4}, "overlong=N needs max"),
        ({"max": 3, "unit": "tokens"}, "unit: tokens needs tokenizer"),
    ],
)
def test_length_without_what_it_needs_is_rejected_when_the_rubric_is_built(params, message) -> None:
    with pytest.raises(rk.ConfigError, match=rf"^rubric\.format\.length: {message}"):
        rk.make_rubric({"format.length": {"weight": 1.0, **params}})


def test_a_length_error_names_the_reward_once() -> None:
    rubric = rk.Rubric()
    rubric.items.append(rk.RubricItem("format.length", length, 1.0, {}, (-1.0, 1.0)))  # unchecked
    with rk.Scorer(rk.load_environment("math.procedural"), rubric=rubric) as scorer:
        result = scorer.score_sync(rk.Sample(id="0", prompt=[], answer="1"), "x")
    assert (
        result.error
        == "format.length: give target, or min and/or max, e.g. format.length: {weight: 0.1, target: 200}"
    )


@pytest.mark.parametrize(("n", "expected"), [(10, 0.0), (16, 0.0), (18, -0.5), (20, -1.0), (25, -1.0)])
def test_dapo_soft_overlong_penalty(n: int, expected: float) -> None:
    # L_max = 20, L_cache = 4: no penalty up to 16, a linear ramp to -1 at 20, -1 beyond
    assert length(None, words(n), max=20, overlong=4).score == pytest.approx(expected)
    assert overlong(None, words(n), max=20, cache=4).score == pytest.approx(expected)


def test_length_tokens_without_tokenizer_is_an_error() -> None:
    assert length(None, "x", max=3, unit="tokens").error is not None


def test_repetition() -> None:
    assert repetition(None, "the cat sat on the mat today").score == 0.0
    looping = repetition(None, "I think so. " * 50)
    assert looping.score is not None
    assert -1.0 <= looping.score < -0.9
    assert repetition(None, "a b").score == 0.0  # shorter than one n-gram
    assert repetition(None, "x y z x y z", ngram_size=3, max_penalty=-0.5).score == pytest.approx(-0.5 * 0.25)
    assert repetition(None, "x", max_penalty=-2).error is not None


def test_reasoning_steps() -> None:
    assert reasoning_steps(None, "Step 1: read. Step 2: add. Step 3: check.").score == 1.0
    assert reasoning_steps(None, "1. read\n2. add\n").score == pytest.approx(2 / 3)
    assert reasoning_steps(None, "First, x. Next, y. Finally, z.").score == 1.0
    assert reasoning_steps(None, "- a\n* b\n").score == pytest.approx(2 / 3)
    assert reasoning_steps(None, "It is 4.").score == 0.0
    assert reasoning_steps(None, "Step 1: x", min_steps=1).components == {"steps": 1.0}
