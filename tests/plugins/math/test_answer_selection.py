"""Which answer is final: the last box / answer tag / statement by default, strictness as an option; prose in
tags; non-English answer phrases; cut-off boxes; the last-number fallback policy."""

import pytest

import rewardkit
from rewardkit.plugins.math.extract import extract
from rewardkit.plugins.math.grader import GradeConfig, Verdict, prepare

DEFAULT = GradeConfig()
STRICT = GradeConfig(selection="strict")


def verdict(gold: str, completion: str, config: GradeConfig = DEFAULT) -> Verdict:
    step = prepare(gold, completion, config)
    assert isinstance(step, Verdict), step  # all of these are decided without sympy
    return step


SELF_CORRECTIONS = [
    "The answer is 12, but wait, 3 more arrive. So the answer is 15.",
    "The answer is 12, but wait, let me recheck the sum... so the answer is 15.",
    "\\boxed{12} ... no, I dropped a carry: it is \\boxed{15}",
    "<answer>12</answer> Hmm, that is wrong. <answer>15</answer>",
    "First \\boxed{12}, then \\boxed{13}. Final Answer: The final answer is $15$. I hope it is correct.",
]


@pytest.mark.parametrize("completion", SELF_CORRECTIONS)
def test_the_last_final_answer_wins(completion: str) -> None:
    assert verdict("15", completion).correct
    assert not verdict("12", completion).correct


@pytest.mark.parametrize("completion", SELF_CORRECTIONS[:4])
def test_strict_selection_scores_several_different_answers_zero(completion: str) -> None:
    result = verdict("15", completion, STRICT)
    assert (result.correct, result.reason) == (False, "several_answers")


def test_an_earlier_statement_does_not_override_later_boxes() -> None:
    completion = "The answer is 12. Checking: \\boxed{12}, no wait, \\boxed{15}"
    assert verdict("15", completion).correct


def test_equal_repeated_answers_are_not_a_conflict_even_when_strict() -> None:
    assert verdict("3", "\\boxed{3}, so again \\boxed{3}", STRICT).correct


@pytest.mark.parametrize(
    "completion",
    [
        "The final answer is **15**.",
        "**Final Answer:** 15",
        "<answer>**15**</answer>",
        "\\boxed{**15**}",
        "The answer is __15__.",
    ],
)
def test_markdown_emphasis_is_not_part_of_the_answer(completion: str) -> None:
    assert extract(completion).answer == "15"


@pytest.mark.parametrize(
    ("completion", "answer"),
    [
        ("<answer>The total is 42 apples.</answer>", "42"),
        ("<answer>So she has 42 left</answer>", "42"),
        ("<answer>The answer is $\\frac{3}{4}$ of the cake.</answer>", "\\frac{3}{4}"),
        ("<answer>Thus \\boxed{7}</answer>", "7"),
        ("<answer>x = 5</answer>", "x = 5"),
        ("<answer>Monday and Tuesday</answer>", "Monday and Tuesday"),
    ],
)
def test_prose_inside_answer_tags_yields_its_answer(completion: str, answer: str) -> None:
    found = extract(completion)
    assert (found.strategy, found.answer) == ("answer_tag", answer)


@pytest.mark.parametrize(
    "completion",
    [
        "所以答案是 12。",
        "因此\uff0c最终答案为\uff1a12",  # full-width comma and colon
        "Donc la réponse est 12.",
        "La réponse finale : 12",
        "Also ist die Antwort 12.",
        "Die Antwort lautet 12.",
        "Por lo tanto, la respuesta es 12.",
        "Portanto, a resposta é 12.",
        "Quindi la risposta è 12.",
        "Ответ: 12",
        "答えは12です。",
    ],
)
def test_final_answer_phrases_in_other_languages(completion: str) -> None:
    result = verdict("12", completion + "\n(3 + 4 = 7)", GradeConfig(last_number=True))
    assert (result.correct, result.strategy) == (True, "final_answer"), result


@pytest.mark.parametrize("completion", ["So it is \\boxed{1", "\\boxed{3} and then \\boxed{\\frac{1}{3"])
def test_an_unclosed_final_box_earns_nothing_from_the_fallbacks(completion: str) -> None:
    result = verdict("1", completion, GradeConfig(last_number=True))
    assert (result.correct, result.reason) == (False, "unclosed_box")


def test_a_box_closed_inside_another_is_not_unclosed() -> None:
    assert verdict("1", "\\boxed{\\boxed{1}}").correct


TAGGED_PROMPT = "Put the final answer in <answer> </answer> tags."


def test_last_number_fallback_is_off_for_prompts_that_ask_for_a_marked_answer() -> None:
    restated = "We need 3 + 4, which I cannot do."
    assert not verdict("4", restated, DEFAULT.for_prompt(TAGGED_PROMPT)).correct
    assert not verdict("4", restated, DEFAULT.for_prompt("Give the result as \\boxed{...}")).correct
    assert verdict("4", restated, DEFAULT.for_prompt("What is 3 + 4?")).correct
    assert verdict("4", restated, GradeConfig(last_number=True).for_prompt(TAGGED_PROMPT)).correct
    assert not verdict("4", restated, GradeConfig(last_number=False)).correct


def test_environments_apply_the_policy_from_the_prompt_the_model_saw() -> None:
    plain = rewardkit.load_environment("math", prompt={"system_prompt": None, "template": "{question}"})
    tagged = rewardkit.load_environment("math")
    eggs = 1  # "A box holds 12 eggs. How many eggs are in 7 boxes?" (84)
    completion = "Seven boxes of 12 eggs hold 84 eggs"
    for env, score in [(tagged, 0.0), (plain, 1.0)]:
        sample = list(env.dataset("train"))[eggs]
        with rewardkit.Scorer(env) as scorer:
            assert scorer.score_sync(sample, completion).score == score, env.config.prompt
    unknown_prompt = rewardkit.Sample(id="row", prompt=[], answer="84")  # a `score` row without a prompt
    with rewardkit.Scorer(tagged) as scorer:
        assert scorer.score_sync(unknown_prompt, completion).score == 1.0
