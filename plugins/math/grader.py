"""Grading one completion against a reference answer: extract -> normalize -> fast path -> symbolic.

Everything up to the symbolic stage is cheap pure Python in the calling process, so plain-number answers
(most of GSM8K) never touch sympy or the worker pool. The symbolic stage runs in a worker process under
a hard deadline; an answer that makes sympy hang or crash scores 0 (its fault), never the trainer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field, field_validator

from rewardkit.config import StrictModel
from rewardkit.plugins.math.extract import STRATEGIES, extract, extract_gold
from rewardkit.plugins.math.normalize import normalize, plain_text
from rewardkit.plugins.math.numbers import decimal_comma, numbers_equal, parse_number

_ASSIGNMENT = re.compile(r"^\s*\\?[A-Za-z]+(?:_\{?\w+\}?)?(?:\([a-z]\))?\s*=(?![=<>])\s*(.+)$", re.DOTALL)
_ALTERNATIVES = re.compile(r"(?<![\\A-Za-z])or(?![A-Za-z])")


class GradeConfig(StrictModel):
    """How answers are found and compared. Shared by the environments and the `math.accuracy` reward."""

    extraction: tuple[str, ...] = Field(
        STRATEGIES, description="answer extraction strategies, tried in this order"
    )
    rel_tol: float = Field(1e-4, ge=0, le=1, description="relative tolerance for numeric answers")
    rounded_match: bool = Field(True, description="accept pred = gold rounded to pred's 2+ decimals")
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
            "parsed_answer": self.extracted,
        }


@dataclass(frozen=True)
class Pending:
    """Answers that need the symbolic stage."""

    gold: str
    pred: str
    extracted: str
    strategy: str | None


SymbolicCheck = Callable[[str, str, float, bool], bool]


def prepare(gold: str, completion: str, config: GradeConfig) -> Verdict | Pending:
    """Everything that needs no sympy: either a final verdict or the pair for the symbolic stage."""
    if len(completion) > config.max_completion_chars:
        return Verdict(False, "completion_too_long")
    gold_answer = extract_gold(gold) or gold
    extraction = extract(completion, config.extraction)
    pred = extraction.answer
    if pred is None:
        return Verdict(False, "no_answer")
    if extraction.ambiguous:
        pred = _joined_if_gold_lists(extraction.candidates, gold_answer)
        if pred is None:
            return Verdict(False, "several_answers", " | ".join(extraction.candidates), extraction.strategy)
    found = (pred, extraction.strategy)
    if (quick := _plain_numbers(gold_answer, pred, config)) is not None:
        return Verdict(quick, "number", *found)
    if len(pred) > config.max_answer_chars or _nesting(pred) > config.max_nesting:
        return Verdict(False, "answer_too_complex", pred[:200], extraction.strategy)
    gold_norm, pred_norm = _align_equations(normalize(gold_answer), normalize(pred))
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
        return Verdict(
            numbers_equal(gold_number, pred_number, config.rel_tol, config.rounded_match), "number", *found
        )
    return Pending(gold_norm, pred_norm, pred, extraction.strategy)


def _plain_numbers(gold: str, pred: str, config: GradeConfig) -> bool | None:
    """The commonest case (`18` vs `18`) decided before any normalization; None when not both plain."""
    if len(pred) > 64:
        return None
    gold_number, pred_number = parse_number(gold), parse_number(pred)
    if gold_number is None or pred_number is None:
        return None
    return numbers_equal(gold_number, pred_number, config.rel_tol, config.rounded_match)


def finish(pending: Pending, equal: bool) -> Verdict:
    return Verdict(equal, "symbolic", pending.extracted, pending.strategy)


def grade_in_process(gold: str, completion: str, config: GradeConfig, check: SymbolicCheck) -> Verdict:
    """Grade without a worker pool (no hard timeout): for trusted inputs, tests and debugging."""
    step = prepare(gold, completion, config)
    if isinstance(step, Verdict):
        return step
    return finish(step, check(step.gold, step.pred, config.rel_tol, config.rounded_match))


def _align_equations(gold: str, pred: str) -> tuple[str, str]:
    """`x = 5` vs `5`: compare the value when exactly one side names a variable and the other does not."""
    gold_rhs, pred_rhs = _ASSIGNMENT.match(gold), _ASSIGNMENT.match(pred)
    if pred_rhs and not gold_rhs and "=" not in gold:
        return gold, pred_rhs.group(1).strip()
    if gold_rhs and not pred_rhs and "=" not in pred:
        return gold_rhs.group(1).strip(), pred
    return gold, pred


def _joined_if_gold_lists(candidates: tuple[str, ...], gold: str) -> str | None:
    """Two boxes are two answers, unless the gold is a list of exactly that many (`1, -2`)."""
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
