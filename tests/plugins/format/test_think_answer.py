import pytest

from rewardkit.plugins.format.tag_count import tag_count
from rewardkit.plugins.format.tags import split_think
from rewardkit.plugins.format.think_answer import think_answer

GOOD = "<think>\nLet me add 2 and 2.\n</think>\n<answer>\n4\n</answer>"


@pytest.mark.parametrize(
    ("completion", "strict", "lenient"),
    [
        (GOOD, 1.0, 1.0),
        ("  " + GOOD + "\n", 1.0, 1.0),
        ("<think>a</think><answer>4</answer>", 1.0, 1.0),
        ("Sure! " + GOOD, 0.0, 1.0),  # text outside the blocks
        (GOOD + " Hope this helps.", 0.0, 1.0),
        ("<think>a</think> between <answer>4</answer>", 0.0, 1.0),
        ("<answer>4</answer><think>a</think>", 0.0, 0.0),  # wrong order
        ("<think>a</think><think>b</think><answer>4</answer>", 0.0, 1.0),  # two think blocks
        ("<think>a</think><answer>4</answer><answer>5</answer>", 0.0, 1.0),
        ("<think>a</think>", 0.0, 0.0),
        ("<think>a<answer>4</answer></think>", 0.0, 0.0),  # answer nested in the reasoning
        ("<think>a</think><answer>  </answer>", 0.0, 0.0),  # empty answer
        ("<think></think><answer>4</answer>", 0.0, 1.0),  # empty reasoning
        ("4", 0.0, 0.0),
        ("", 0.0, 0.0),
    ],
)
def test_strict_and_lenient(completion: str, strict: float, lenient: float) -> None:
    assert think_answer(None, completion) == strict
    assert think_answer(None, completion, mode="lenient") == lenient


def test_allow_empty() -> None:
    assert think_answer(None, "<think></think><answer>4</answer>", allow_empty=True) == 1.0


def test_custom_tag_names() -> None:
    text = "<reasoning>x</reasoning><final>7</final>"
    assert think_answer(None, text, think_tag="reasoning", answer_tag="final") == 1.0
    assert think_answer(None, text) == 0.0


def test_template_already_opened_think() -> None:
    # the chat template ended with "<think>\n"; the completion starts inside the reasoning block
    inside = "Let me add.\n</think>\n<answer>4</answer>"
    assert think_answer(None, inside, think_opened=True) == 1.0
    assert think_answer(None, inside) == 0.0
    assert think_answer(None, "<think>again</think><answer>4</answer>", think_opened=True) == 0.0
    assert think_answer(None, "no closing tag <answer>4</answer>", think_opened=True) == 0.0


def test_plain_answer_after_think() -> None:
    assert think_answer(None, "<think>r</think>\nThe answer is 4.", answer_tag=None) == 1.0
    assert think_answer(None, "<think>r</think>\n  ", answer_tag=None) == 0.0
    assert think_answer(None, "r</think>The answer is 4.", answer_tag=None, think_opened=True) == 1.0


def test_tag_count_partial_credit() -> None:
    assert tag_count(None, GOOD) == 1.0
    assert tag_count(None, "<think>a</think> 4") == 0.5
    assert tag_count(None, "<think>a</think><answer>4") == 0.75
    assert tag_count(None, "<think>a<think>b</think><answer>4</answer>") == 0.75  # duplicate open tag
    assert tag_count(None, "</answer><answer>") == 0.25  # close before open: only the open tag counts
    assert tag_count(None, "") == 0.0


def test_tag_count_open_r1_newlines() -> None:
    assert tag_count(None, GOOD, newlines=True) == 1.0
    assert tag_count(None, "<think>a</think><answer>4</answer>", newlines=True) == 0.0
    assert tag_count(None, "<think>a</think><answer>4</answer>") == 1.0


def test_tag_count_think_opened() -> None:
    assert tag_count(None, "a\n</think>\n<answer>4</answer>", think_opened=True) == 1.0
    assert tag_count(None, "<think>a</think><answer>4</answer>", think_opened=True) == 0.75


def test_split_think() -> None:
    split = split_think(GOOD)
    assert (split.reasoning.strip(), split.answer.strip(), split.closed) == ("Let me add 2 and 2.", "4", True)
    opened = split_think("reasoning here</think>final", answer_tag=None)
    assert (opened.reasoning, opened.answer) == ("reasoning here", "final")
    assert split_think("just an answer") == type(split)("", "just an answer", False)
