import pytest

from rewardkit.plugins.math.grader import GradeConfig, Pending, Verdict, prepare
from rewardkit.plugins.math.normalize import normalize
from rewardkit.plugins.math.numbers import parse_number

CONFIG = GradeConfig()


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("18", "The answer is $\\boxed{18}$."),
        ("1000", "\\boxed{1,000}"),
        ("1000", "\\boxed{1{,}000}"),
        ("11111111100", "\\boxed{11,\\! 111,\\! 111,\\! 100}"),
        ("10", "\\boxed{\\$10}"),
        ("25", "\\boxed{25\\%}"),
        ("90", "\\boxed{90^\\circ}"),
        ("0.5", "\\boxed{\\dfrac{1}{2}}"),
        ("1/2", "\\boxed{0.5}"),
        ("1500", "\\boxed{1.5 \\times 10^{3}}"),
        ("1", "\\boxed{1.0001}"),
        ("\\frac{1}{3}", "\\boxed{0.3333}"),
        ("5", "\\boxed{x = 5}"),
        ("125", "\\boxed{125\\text{ miles}}"),
        ("1.22", "\\boxed{1,22}"),
    ],
)
def test_plain_numbers_are_decided_without_sympy(gold: str, completion: str) -> None:
    step = prepare(gold, completion, CONFIG)
    assert isinstance(step, Verdict)
    assert step.correct, step


@pytest.mark.parametrize(
    ("gold", "completion"),
    [("5", "\\boxed{5.001}"), ("1112112", "\\boxed{1112122}"), ("2", "\\boxed{3}"), ("0.6", "\\boxed{1/2}")],
)
def test_plain_numbers_that_differ_score_zero(gold: str, completion: str) -> None:
    step = prepare(gold, completion, CONFIG)
    assert isinstance(step, Verdict)
    assert not step.correct


def test_non_numbers_go_to_the_symbolic_stage() -> None:
    assert isinstance(prepare("\\sqrt{2}", "\\boxed{2^{1/2}}", CONFIG), Pending)


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("no answer here", "no_answer"),
        ("\\boxed{3 or 4}", "several_answers"),
        ("\\boxed{" + "(" * 50 + "1" + ")" * 50 + "}", "answer_too_complex"),
        ("\\boxed{" + "1+" * 600 + "1}", "answer_too_complex"),
        ("x" * 300_000, "completion_too_long"),
    ],
)
def test_bad_completions_score_zero_with_a_reason(completion: str, reason: str) -> None:
    step = prepare("7", completion, CONFIG)
    assert isinstance(step, Verdict)
    assert (step.correct, step.reason) == (False, reason)


def test_normalize_and_parse() -> None:
    assert normalize("$\\left( 3, \\dfrac{\\pi}{2} \\right)$") == "( 3, \\frac{\\pi}{2} )"
    assert parse_number("-\\frac{3}{4}").value == parse_number("-0.75").value
    assert parse_number("1e999") is not None
    assert parse_number("x") is None
