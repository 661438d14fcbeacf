"""The reasoning-emergence metrics on hand-written completions, and accuracy from a rubric's verdict."""

from __future__ import annotations

import pytest

from rewardkit.trainer.reasoning import Detector, ReasoningMetricsConfig, reasoning_metrics

COMPLETIONS = {
    # reflects and changes its answer inside the reasoning: the R1 "aha"
    "aha": "<think>39 + 42: the answer is 71. Wait, 9 + 2 = 11, carry the 1: 81</think><answer>81</answer>",
    # a straight run: neither
    "plain": "<think>9 + 2 = 11, 3 + 4 + 1 = 8</think><answer>81</answer>",
    # reflects ("Let me check") but keeps its answer
    "check": "<think>answer: 12. Let me check: 5 + 7 = 12.</think><answer>12</answer>",
    # a reflection word outside the think block does not count; nor does a word containing one
    "outside": "<think>awaiting the sum</think>wait<answer>5</answer>",
    # two different answers, no reflection phrase
    "flip": r"<think>\boxed{3} ... no</think><answer>4</answer>",
}


@pytest.mark.parametrize(
    ("key", "reflects", "changes"),
    [
        ("aha", True, True),
        ("plain", False, False),
        ("check", True, False),
        ("outside", False, False),
        ("flip", False, True),
    ],
)
def test_each_completion(key, reflects, changes):
    detector = Detector(ReasoningMetricsConfig())
    assert detector.reflects(COMPLETIONS[key]) is reflects
    assert detector.changes_answer(COMPLETIONS[key]) is changes


def test_rates_per_environment_and_overall():
    texts = [COMPLETIONS[k] for k in ("aha", "plain", "check", "flip")]
    metrics = reasoning_metrics(
        texts, ["math", "math", "math", "code"], [30, 20, 25, 10], ReasoningMetricsConfig()
    )
    assert metrics == {
        "completion/math/length_mean": 25.0,
        "reasoning/math/reflection_rate": pytest.approx(2 / 3),
        "reasoning/math/answer_change_rate": pytest.approx(1 / 3),
        "completion/code/length_mean": 10.0,
        "reasoning/code/reflection_rate": 0.0,
        "reasoning/code/answer_change_rate": 1.0,
        "reasoning/reflection_rate": 0.5,
        "reasoning/answer_change_rate": 0.5,
    }


def test_the_phrases_are_configurable_and_can_be_switched_off():
    config = ReasoningMetricsConfig(reflection_phrases=["carry"], answer_patterns=[r"<answer>(.*?)</answer>"])
    detector = Detector(config)
    assert detector.reflects(COMPLETIONS["aha"]) and not detector.reflects(COMPLETIONS["check"])
    assert not detector.changes_answer(COMPLETIONS["aha"])  # only the tag counts now
    assert reasoning_metrics(["x"], ["e"], [1], ReasoningMetricsConfig(enabled=False)) == {}
