import gc
import time

import pytest

from rewardkit.plugins.math.extract import extract, extract_gold


@pytest.mark.parametrize(
    ("completion", "answer", "strategy"),
    [
        ("<think>2+2</think><answer>4</answer>", "4", "answer_tag"),
        ("<answer>$\\boxed{\\frac{1}{2}}$</answer>", "\\frac{1}{2}", "answer_tag"),
        ("so $x = \\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}", "boxed"),
        ("the result is \\fbox{7}", "7", "boxed"),
        ("Final Answer: The final answer is $(0, 1)$. I hope it is correct.", "(0, 1)", "final_answer"),
        ("Final Answer: The largest $n$ is 34.", "34", "final_answer"),
        ("Natalia sold 48 clips.\n#### 72", "72", "gsm8k"),
        ("$\\frac{3}{4}$", "\\frac{3}{4}", "expression"),
        ("We get $x = 3$ and then more prose.", "x = 3", "last_math"),
        ("so she ends up with 1,234 dollars", "1,234", "last_number"),
    ],
)
def test_strategies_find_the_final_answer(completion: str, answer: str, strategy: str) -> None:
    found = extract(completion)
    assert (found.answer, found.strategy) == (answer, strategy)
    assert not found.ambiguous


def test_two_different_boxes_are_ambiguous_but_equal_boxes_are_not() -> None:
    assert extract("\\boxed{3} or maybe \\boxed{4}").ambiguous
    assert not extract("\\boxed{3}, so again \\boxed{3}").ambiguous


def test_an_explicit_final_answer_settles_boxed_intermediate_results() -> None:
    text = "first \\boxed{200}, then \\boxed{255}. Final Answer: The final answer is $10,455$."
    found = extract(text)
    assert (found.answer, found.ambiguous) == ("10,455", False)


def test_order_is_configurable() -> None:
    text = "<answer>5</answer> and \\boxed{6}"
    assert extract(text, ("boxed", "answer_tag")).answer == "6"
    assert extract(text, ("answer_tag",)).answer == "5"


def test_nested_braces_in_boxes() -> None:
    assert extract("\\boxed{\\frac{1}{\\sqrt{2}}}").answer == "\\frac{1}{\\sqrt{2}}"


def test_gold_from_solutions_and_adjacent_boxes() -> None:
    assert extract_gold("Janet sells 9 eggs.\n#### 18") == "18"
    assert (
        extract_gold("Hence $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.")
        == "\\left( 3, \\frac{\\pi}{2} \\right)"
    )
    assert extract_gold("\\boxed{1} and \\boxed{2}") == "1, 2"
    assert extract_gold("\\boxed{1} no no no no no \\boxed{2}") == "2"


@pytest.mark.parametrize(
    "attack",
    [
        "\\boxed{" * 100_000,
        "{" * 200_000,
        "$" * 200_000,
        "<answer>" * 50_000,
        "\\(" * 100_000,
        "1," * 100_000,
    ],
)
def test_extraction_is_fast_on_adversarial_text(attack: str) -> None:
    # This thread's CPU time, with the collector paused: a quadratic scan would take minutes, while other
    # processes' load, threads that earlier tests left running and a full collection of the suite's heap
    # must not count.
    gc.collect()
    gc.disable()
    try:
        start = time.thread_time()
        extract(attack)
        elapsed = time.thread_time() - start
    finally:
        gc.enable()
    assert elapsed < 1.0
