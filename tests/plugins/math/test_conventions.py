"""Comparison conventions: percentages, units and currency, option letters, big operators, rounding."""

import pytest

import rewardkit
from rewardkit.plugins.math.grader import GradeConfig, grade_in_process
from rewardkit.plugins.math.symbolic import symbolic_match

CONFIG = GradeConfig()


def correct(gold: str, completion: str, config: GradeConfig = CONFIG, choices: object = None) -> bool:
    return grade_in_process(gold, completion, config, symbolic_match, choices).correct


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        ("0.1", "<answer>10%</answer>", True),
        ("0.35", "\\boxed{35\\%}", True),
        ("0.15", "The answer is 15 percent.", True),
        ("10", "<answer>10%</answer>", True),
        ("10\\%", "<answer>0.1</answer>", True),
        ("12.5\\%", "\\boxed{\\frac{1}{8}}", True),
        ("\\frac{1}{3}", "\\boxed{\\frac{100}{3}\\%}", True),
        ("0.2", "<answer>10%</answer>", False),
        ("0.1", "<answer>10</answer>", False),  # only a percentage may be read divided by 100
        ("10", "<answer>1000</answer>", False),
    ],
)
def test_a_percentage_is_x_or_x_over_100(gold: str, completion: str, expected: bool) -> None:
    assert correct(gold, completion) is expected


NOUNS = ["dollars", "cats", "people", "USD", "apples", "euros", "cm^2", "m/s", "square feet"]


@pytest.mark.parametrize("noun", NOUNS)
def test_words_after_a_number_never_change_the_verdict(noun: str) -> None:
    assert correct("14", f"<answer>14 {noun}</answer>")
    assert not correct("15", f"<answer>14 {noun}</answer>")
    assert correct("14", f"The answer is 14 {noun}.")


@pytest.mark.parametrize(
    "answer",
    ["$14", "\\$14", "US$14", "USD 14", "14 USD", "€14", "14个", "14.00 dollars", "14 \\text{ dollars}"],
)
def test_currency_and_counters_around_a_number(answer: str) -> None:
    assert correct("14", f"<answer>{answer}</answer>")


@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        ("10", "10 cm^2"),
        ("10 \\text{ cm}^2", "10"),
        ("\\frac{1}{2}", "\\frac{1}{2} cup"),
        ("x = 3", "x = 3 meters"),
    ],
)
def test_units_after_values(gold: str, answer: str) -> None:
    assert correct(gold, f"\\boxed{{{answer}}}")


def test_a_single_letter_after_a_number_is_a_variable() -> None:
    assert not correct("2", "\\boxed{2 x}")


@pytest.mark.parametrize(
    ("gold", "completion", "choices", "expected"),
    [
        ("B", "<answer>(B) 24</answer>", None, True),
        ("(B)", "The answer is B.", None, True),
        ("B", "\\boxed{\\text{(B)}}", None, True),
        ("C", "<answer>(B) 24</answer>", None, False),
        ("24", "<answer>(B) 24</answer>", None, True),
        ("25", "<answer>(B) 24</answer>", None, False),
        ("24", "<answer>B</answer>", ["12", "24", "36"], True),
        ("24", "<answer>C</answer>", ["12", "24", "36"], False),
        ("24", "<answer>B</answer>", None, False),
        ("B", "<answer>24</answer>", {"A": "12", "B": "24"}, True),
        ("B", "<answer>24</answer>", ["(A) 12", "(B) 24"], True),
    ],
)
def test_option_letters(gold: str, completion: str, choices: object, expected: bool) -> None:
    assert correct(gold, completion, choices=choices) is expected


def test_choices_travel_in_the_sample_info() -> None:
    env = rewardkit.load_environment("math")
    sample = rewardkit.Sample(id="q", prompt=[], answer="24", info={"choices": ["12", "24", "36"]})
    with rewardkit.Scorer(env) as scorer:
        assert scorer.score_sync(sample, "<answer>B</answer>").score == 1.0


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("385", "\\sum_{k=1}^{10} k^2", True),
        ("386", "\\sum_{k=1}^{10} k^2", False),
        ("\\sum_{k=1}^{10} k^2", "385", True),
        ("6", "\\prod_{i=1}^{3} i", True),
        ("\\frac{n(n+1)}{2}", "\\sum_{k=1}^{n} k", True),
    ],
)
def test_big_operators_are_not_equations(gold: str, answer: str, expected: bool) -> None:
    assert correct(gold, f"\\boxed{{{answer}}}") is expected


def test_an_index_equals_sign_is_not_an_assignment() -> None:
    assert correct("5", "\\boxed{a_{1} = 5}")
    assert correct("5", "\\boxed{f(x) = 5}")


def test_rounded_answers_are_a_policy_off_by_default() -> None:
    assert not correct("\\frac{1}{3}", "\\boxed{0.33}")
    assert correct("\\frac{1}{3}", "\\boxed{0.33}", GradeConfig(rounded_match=True))
    assert correct("\\frac{1}{3}", "\\boxed{0.33333}")  # within the relative tolerance


def test_a_labelled_gold_is_compared_by_letter_or_by_text() -> None:
    assert correct("(B) 24", "<answer>(B) 24</answer>")
    assert correct("(B) 24", "<answer>B</answer>")
    assert correct("(B) 24", "<answer>24</answer>")
    assert not correct("(B) 24", "<answer>(C) 36</answer>")


def test_the_parsed_answer_for_votes_is_in_compared_form() -> None:
    def parsed(completion: str) -> object:
        return grade_in_process("14", completion, CONFIG, symbolic_match).info()["parsed_answer"]

    assert {parsed(f"<answer>{a}</answer>") for a in ["14 dollars", "$14", "14.0", "14"]} == {"14"}
    assert parsed("\\boxed{\\dfrac{1}{2}}") == "1/2" == parsed("\\boxed{0.5}")
    assert parsed("no answer here") is None
