"""Grading one completion against a reference answer: extract -> normalize -> fast path -> symbolic.

Everything up to the symbolic stage is cheap pure Python in the calling process, so plain-number answers
(most of GSM8K) never touch sympy or the worker pool. The symbolic stage runs in a worker process under
a hard deadline; an answer that makes sympy hang or crash scores 0 (its fault), never the trainer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, field_validator

from rewardkit.config import StrictModel
from rewardkit.plugins.math.choices import resolve_options
from rewardkit.plugins.math.extract import STRATEGIES, Extraction, extract, extract_gold
from rewardkit.plugins.math.normalize import is_percentage, normalize, plain_text
from rewardkit.plugins.math.numbers import Number, decimal_comma, numbers_equal, parse_number, percent_forms

# `x = 5`, `f(x) = 5`, `a_1 = 5`, `a_{10} = 5`; not `\sum_{k=1}^{10} k`, whose `=` belongs to the index.
_ASSIGNMENT = re.compile(
    r"^\s*\\?[A-Za-z]+(?:_(?:\{\w+\}|\w))?(?:\([a-z]\))?\s*=(?![=<>])\s*(.+)$", re.DOTALL
)
_ALTERNATIVES = re.compile(r"(?<![\\A-Za-z])or(?![A-Za-z])")
# A prompt that asks for a marked answer: then a bare number elsewhere in the completion is not an answer.
_MARKED_ANSWER_REQUEST = re.compile(r"<answer>|\\boxed")

Selection = Literal["last", "strict"]


class GradeConfig(StrictModel):
    """How answers are found and compared. Shared by the environments and the `math.accuracy` reward."""

    extraction: tuple[str, ...] = Field(
        STRATEGIES, description="answer extraction strategies, tried in this order"
    )
    selection: Selection = Field(
        "last",
        description="several different final answers (boxes, tags, statements): 'last' grades the last one, "
        "a self-correction; 'strict' scores 0",
    )
    last_number: bool | None = Field(
        None,
        description="fall back to the last number in the completion; null: only when the prompt does not "
        "ask for <answer> tags or \\boxed{} (a number restated from the question is not an answer)",
    )
    rel_tol: float = Field(1e-4, ge=0, le=1, description="relative tolerance for numeric answers")
    rounded_match: bool = Field(
        False, description="accept pred = gold rounded to the 2+ decimals pred is written with (0.33 for 1/3)"
    )
    timeout: float = Field(5.0, gt=0, description="seconds for one symbolic comparison (hard kill)")
    max_completion_chars: int = Field(200_000, gt=0, description="longer completions score 0")
    max_answer_chars: int = Field(1_000, gt=0, description="longer extracted answers score 0")
    max_nesting: int = Field(20, gt=0, description="deeper bracket nesting scores 0 (parser bombs)")

    @field_validator("extraction")
    @classmethod
    def _known_strategies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in STRATEGIES]
        if unknown or not value:
            raise ValueError(f"unknown extraction strategies {unknown}; choose from {list(STRATEGIES)}")
        return value

    def for_prompt(self, prompt: str | None) -> GradeConfig:
        """This config with the last-number policy decided for a prompt (`None`: the prompt is unknown)."""
        if self.last_number is not None or prompt is None:
            return self
        return _with_last_number(self, _MARKED_ANSWER_REQUEST.search(prompt) is None)

    def strategies(self) -> tuple[str, ...]:
        """The extraction order, without the last-number fallback when the policy turned it off."""
        dropped = "last_number" if self.last_number is False else None
        return tuple(name for name in self.extraction if name != dropped)


@lru_cache(maxsize=64)  # a handful of configs per process; spares a model copy per graded sample
def _with_last_number(config: GradeConfig, enabled: bool) -> GradeConfig:
    return config.model_copy(update={"last_number": enabled})


@dataclass(frozen=True)
class Verdict:
    """The outcome of grading, with enough detail to debug a surprising score."""

    correct: bool
    reason: str
    extracted: str | None = None
    strategy: str | None = None

    def info(self) -> dict[str, str | None]:
        return {
            "verdict": self.reason,
            "extracted": self.extracted,
            "strategy": self.strategy,
            "parsed_answer": None if self.extracted is None else canonical_answer(self.extracted),
        }


def canonical_answer(answer: str) -> str:
    """The form answers are compared in, for votes (maj@k): `14 dollars`, `$14` and `14.0` are all `14`."""
    text = normalize(answer)
    number = parse_number(text)
    return text if number is None else str(number.value)


@dataclass(frozen=True)
class Pending:
    """Answers that need the symbolic stage: equal when any gold form equals any predicted form."""

    golds: tuple[str, ...]
    preds: tuple[str, ...]
    extracted: str
    strategy: str | None


SymbolicCheck = Callable[[tuple[str, ...], tuple[str, ...], float, bool], bool]


def prepare(gold: str, completion: str, config: GradeConfig, choices: Any = None) -> Verdict | Pending:
    """Everything that needs no sympy: either a final verdict or the pair for the symbolic stage.

    `choices` is the sample's list (or letter -> text mapping) of multiple-choice options, if any.
    """
    if len(completion) > config.max_completion_chars:
        return Verdict(False, "completion_too_long")
    gold_answer = extract_gold(gold) or gold
    extraction = extract(completion, config.strategies())
    if extraction.truncated:
        return Verdict(False, "unclosed_box", None, extraction.strategy)
    pred = _select(extraction, gold_answer, config.selection)
    if pred is None:
        if extraction.answer is None:
            return Verdict(False, "no_answer")
        return Verdict(False, "several_answers", " | ".join(extraction.candidates), extraction.strategy)
    found = (pred, extraction.strategy)
    options = resolve_options(gold_answer, pred, choices)
    if isinstance(options, bool):
        return Verdict(options, "option", *found)
    gold_text, pred_text = options
    return _compare(gold_text, pred_text, config, found)


def _compare(gold: str, pred: str, config: GradeConfig, found: tuple[str, str | None]) -> Verdict | Pending:
    percent = (is_percentage(gold), is_percentage(pred))
    if (quick := _plain_numbers(gold, pred, config)) is not None:
        return Verdict(quick, "number", *found)
    if len(pred) > config.max_answer_chars or _nesting(pred) > config.max_nesting:
        return Verdict(False, "answer_too_complex", pred[:200], found[1])
    gold_norm, pred_norm = _align_equations(normalize(gold), normalize(pred))
    if _ALTERNATIVES.search(pred_norm) and not _ALTERNATIVES.search(gold_norm):
        return Verdict(False, "several_answers", *found)
    if plain_text(gold_norm) == plain_text(pred_norm) and plain_text(pred_norm):
        return Verdict(True, "text", *found)
    gold_number, pred_number = parse_number(gold_norm), parse_number(pred_norm)
    if gold_number is not None and pred_number is None:
        pred_number = decimal_comma(pred_norm)
    elif pred_number is not None and gold_number is None:
        gold_number = decimal_comma(gold_norm)
    if gold_number is not None and pred_number is not None:
        equal = _numbers_match(gold_number, pred_number, percent, config)
        return Verdict(equal, "number", *found)
    return Pending(_percent_forms(gold_norm, percent[0]), _percent_forms(pred_norm, percent[1]), *found)


def _select(extraction: Extraction, gold: str, selection: Selection) -> str | None:
    """The answer to grade, or None: nothing found, or several different answers under `strict`."""
    if not extraction.ambiguous:
        return extraction.answer
    joined = _joined_if_gold_lists(extraction.candidates, gold)
    if joined is not None:
        return joined
    return extraction.answer if selection == "last" else None


def _plain_numbers(gold: str, pred: str, config: GradeConfig) -> bool | None:
    """The commonest case (`18` vs `18`) decided before any normalization; None when not both plain."""
    if len(pred) > 64:
        return None
    gold_number, pred_number = parse_number(gold), parse_number(pred)
    if gold_number is None or pred_number is None:
        return None
    return numbers_equal(gold_number, pred_number, config.rel_tol, config.rounded_match)


def _numbers_match(gold: Number, pred: Number, percent: tuple[bool, bool], config: GradeConfig) -> bool:
    """Equal numbers; a side written as a percentage may also be read divided by 100 (Qwen's convention)."""
    return any(
        numbers_equal(g, p, config.rel_tol, config.rounded_match)
        for g in percent_forms(gold, percent[0])
        for p in percent_forms(pred, percent[1])
    )


def _percent_forms(answer: str, percent: bool) -> tuple[str, ...]:
    return (answer, f"\\frac{{{answer}}}{{100}}") if percent else (answer,)


def finish(pending: Pending, equal: bool) -> Verdict:
    return Verdict(equal, "symbolic", pending.extracted, pending.strategy)


def grade_in_process(
    gold: str, completion: str, config: GradeConfig, check: SymbolicCheck, choices: Any = None
) -> Verdict:
    """Grade without a worker pool (no hard timeout): for trusted inputs, tests and debugging."""
    step = prepare(gold, completion, config, choices)
    if isinstance(step, Verdict):
        return step
    return finish(step, check(step.golds, step.preds, config.rel_tol, config.rounded_match))


def _align_equations(gold: str, pred: str) -> tuple[str, str]:
    """`x = 5` vs `5`: compare the value when exactly one side names a variable and the other does not."""
    gold_rhs, pred_rhs = _ASSIGNMENT.match(gold), _ASSIGNMENT.match(pred)
    if pred_rhs and not gold_rhs and "=" not in gold:
        return gold, pred_rhs.group(1).strip()
    if gold_rhs and not pred_rhs and "=" not in pred:
        return gold_rhs.group(1).strip(), pred
    return gold, pred


def _joined_if_gold_lists(candidates: tuple[str, ...], gold: str) -> str | None:
    """Two boxes are one list answer when the gold is a list of exactly that many items (`1, -2`)."""
    distinct = list(dict.fromkeys(normalize(c) for c in candidates))
    gold = normalize(gold)
    if gold.startswith(("{", "\\{")):
        gold = gold.lstrip("\\{").rstrip("}\\")
    return ", ".join(distinct) if _top_level_items(gold) == len(distinct) > 1 else None


def _top_level_items(text: str) -> int:
    depth, items = 0, 1
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        items += char == "," and depth == 0
    return items


def _nesting(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest
