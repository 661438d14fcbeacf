"""Verdict parsing on a table of judge outputs, and logprob weighting at the verdict token."""

from __future__ import annotations

import math

import pytest

from rewardkit.plugins.judge.backends.base import TokenLogprob
from rewardkit.plugins.judge.parsing import VerdictError, VerdictParser, weighted_value
from rewardkit.plugins.judge.templates import YES_NO, YES_NO_ALIASES

YESNO = VerdictParser(YES_NO, YES_NO_ALIASES)
SCALE = VerdictParser({str(n): float(n) for n in range(1, 11)})
PAIR = VerdictParser({"A": 1.0, "tie": 0.5, "B": 0.0}, {"equal": "tie"})

TABLE = [
    (YESNO, '{"verdict": "yes"}', 1.0, "json"),
    (YESNO, '```json\n{"verdict": "NO"}\n```', 0.0, "json"),
    (YESNO, "Yes.", 1.0, "bare"),
    (YESNO, "no", 0.0, "bare"),
    (YESNO, "**Correct**", 1.0, "bare"),
    (YESNO, "Incorrect.", 0.0, "bare"),
    (YESNO, "The response says 41, the reference says 42.\nVerdict: incorrect", 0.0, "marker"),
    (YESNO, "First I thought yes.\nFinal verdict: **no**", 0.0, "marker"),
    (YESNO, 'Reasoning... {"verdict": "yes", "reason": "no issues"}', 1.0, "json"),
    (SCALE, "8", 8.0, "bare"),
    (SCALE, "Score: 7/10", 7.0, "marker"),
    (SCALE, "**Rating:** 9", 9.0, "marker"),
    (SCALE, '{"score": 10, "explanation": "perfect"}', 10.0, "json"),
    (SCALE, '{"score": "3"}', 3.0, "json"),
    (SCALE, "Score: 7.5", 7.5, "marker"),
    (SCALE, "The answer has 3 errors. Score: 4", 4.0, "marker"),
    (PAIR, "[[A]]", 1.0, "brackets"),
    (PAIR, "Both are fine. [[B]]", 0.0, "brackets"),
    (PAIR, '{"winner": "tie"}', 0.5, "json"),
    (PAIR, "Equal", 0.5, "bare"),
]

UNPARSEABLE = [
    (YESNO, ""),
    (YESNO, "   \n"),
    (YESNO, "The response discusses the French capital at length and considers several options."),
    (YESNO, "I'm sorry, but I can't help with grading this."),
    (YESNO, "maybe"),
    (SCALE, "Score: 11"),  # outside the 1-10 scale
    (SCALE, "0"),
    (SCALE, "There are 3 reasons this answer is good, and 2 it is bad, overall solid work here."),
    (SCALE, '{"score": true}'),
    (PAIR, "C"),
]


@pytest.mark.parametrize(("parser", "text", "value", "method"), TABLE)
def test_parses_verdicts(parser: VerdictParser, text: str, value: float, method: str) -> None:
    verdict = parser.parse(text)
    assert (verdict.value, verdict.method) == (value, method)


@pytest.mark.parametrize(("parser", "text"), UNPARSEABLE)
def test_unparseable_outputs_raise(parser: VerdictParser, text: str) -> None:
    with pytest.raises(VerdictError):
        parser.parse(text)


def test_refusal_is_named() -> None:
    with pytest.raises(VerdictError, match="refused"):
        YESNO.parse("I cannot evaluate this content.")


def _tokens(*pieces: tuple[str, dict[str, float]]) -> list[TokenLogprob]:
    return [TokenLogprob(text, top.get(text, -0.1), top) for text, top in pieces]


def test_logprob_weighting_at_the_verdict_token() -> None:
    text = '{"verdict": "yes"}'
    tokens = _tokens(
        ('{"verdict": "', {}), ("yes", {"yes": math.log(0.75), "no": math.log(0.25)}), ('"}', {})
    )
    verdict = YESNO.parse(text)
    value, mass = weighted_value(YESNO, text, tokens, verdict)
    assert value == pytest.approx(0.75)
    assert mass == pytest.approx(1.0)


def test_logprob_weighting_on_a_scale() -> None:
    text = "Score: 8"
    top = {"8": math.log(0.5), "6": math.log(0.25), "word": math.log(0.25)}
    tokens = _tokens(("Score: ", {}), ("8", top))
    value, mass = weighted_value(SCALE, text, tokens, SCALE.parse(text))
    assert value == pytest.approx((8 * 0.5 + 6 * 0.25) / 0.75)
    assert mass == pytest.approx(0.75)


def test_logprob_weighting_refuses_split_numbers_and_misaligned_tokens() -> None:
    split = _tokens(("Score: ", {}), ("1", {"1": -0.1}), ("0", {"0": -0.1}))
    assert weighted_value(SCALE, "Score: 10", split, SCALE.parse("Score: 10")) is None
    misaligned = _tokens(("Verdict: ", {}), ("yes", {"yes": -0.1}))
    assert weighted_value(YESNO, "Verdict:  yes", misaligned, YESNO.parse("Verdict:  yes")) is None
