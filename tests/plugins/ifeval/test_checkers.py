"""Reference behaviours of individual checkers (lm-eval's ifeval semantics), including the odd ones."""

import pytest

from rewardkit.plugins.ifeval.nlp import count_sentences, word_tokenize
from rewardkit.plugins.ifeval.registry import evaluate


def strict(instruction: str, response: str, **kwargs: object) -> bool:
    return evaluate(response, [instruction], [kwargs]).strict[0]


def loose(instruction: str, response: str, **kwargs: object) -> bool:
    return evaluate(response, [instruction], [kwargs]).loose[0]


def test_punkt_sentences_offline() -> None:
    assert count_sentences("Mr. Smith arrived at 5 p.m. on Friday. He left.") == 2
    assert count_sentences("One.\nTwo! Three? Four") == 4
    assert word_tokenize("DON'T stop. U.S. now") == ["DO", "N'T", "stop", ".", "U.S.", "now"]


@pytest.mark.parametrize(
    ("instruction", "response", "kwargs", "expected"),
    [
        ("detectable_format:number_bullet_lists", "* a\n* b\n- c", {"num_bullets": 3}, True),
        ("detectable_format:number_bullet_lists", "** a\n* b", {"num_bullets": 1}, True),
        ("detectable_format:number_highlighted_sections", "*a* **b** * *", {"num_highlights": 2}, True),
        ("detectable_format:title", "<< >>", {}, False),
        ("detectable_format:title", "<<a>> x <<b>>", {}, True),
        ("detectable_content:postscript", "hi\np. p. s. later", {"postscript_marker": "P.P.S"}, True),
        ("detectable_content:number_placeholders", "[a] [b\n] [c]", {"num_placeholders": 3}, False),
        ("keywords:existence", "The Tides turn", {"keywords": ["tide"]}, True),  # substring, any case
        ("keywords:forbidden_words", "the tides", {"forbidden_words": ["tide"]}, True),  # whole word only
        (
            "keywords:letter_frequency",
            "a#b#",
            {"letter": "#", "let_frequency": 2, "let_relation": "at least"},
            True,
        ),
        ("language:response_language", "1234 !!!", {"language": "fr"}, True),  # undetectable passes
        ("change_case:english_lowercase", "ceci est une phrase en français", {}, False),
        ("startend:quotation", '"', {}, False),
        ("combination:two_responses", "a\n******\na", {}, False),  # identical responses
        ("length_constraints:number_paragraphs", "a\n***\n\n***\nb", {"num_paragraphs": 2}, False),
    ],
)
def test_reference_semantics(instruction: str, response: str, kwargs: dict, expected: bool) -> None:
    assert strict(instruction, response, **kwargs) is expected


def test_loose_removes_first_line_last_line_and_asterisks() -> None:
    assert not strict("startend:quotation", 'Sure:\n"quoted"')
    assert loose("startend:quotation", 'Sure:\n"quoted"')
    assert not strict("punctuation:no_comma", "Well, fine")
    assert not loose("punctuation:no_comma", "Well, fine")
    assert loose("startend:end_checker", "**Any other questions?**", end_phrase="Any other questions?")


def test_empty_response_follows_nothing() -> None:
    verdicts = evaluate("  ", ["punctuation:no_comma"], [{}])
    assert verdicts.strict == [False]
    assert verdicts.loose == [False]
