"""Instruction ids -> checkers, their required arguments, and strict / loose evaluation of a response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.plugins.ifeval import checkers as c

INSTRUCTIONS: dict[str, tuple[c.Checker, tuple[str, ...]]] = {
    "keywords:existence": (c.keyword_existence, ("keywords",)),
    "keywords:frequency": (c.keyword_frequency, ("keyword", "frequency", "relation")),
    "keywords:forbidden_words": (c.forbidden_words, ("forbidden_words",)),
    "keywords:letter_frequency": (c.letter_frequency, ("letter", "let_frequency", "let_relation")),
    "language:response_language": (c.response_language, ("language",)),
    "length_constraints:number_sentences": (c.number_sentences, ("num_sentences", "relation")),
    "length_constraints:number_paragraphs": (c.number_paragraphs, ("num_paragraphs",)),
    "length_constraints:number_words": (c.number_words, ("num_words", "relation")),
    "length_constraints:nth_paragraph_first_word": (
        c.nth_paragraph_first_word,
        ("num_paragraphs", "nth_paragraph", "first_word"),
    ),
    "detectable_content:number_placeholders": (c.number_placeholders, ("num_placeholders",)),
    "detectable_content:postscript": (c.postscript, ("postscript_marker",)),
    "detectable_format:number_bullet_lists": (c.number_bullet_lists, ("num_bullets",)),
    "detectable_format:constrained_response": (c.constrained_response, ()),
    "detectable_format:number_highlighted_sections": (c.number_highlighted_sections, ("num_highlights",)),
    "detectable_format:multiple_sections": (c.multiple_sections, ("section_spliter", "num_sections")),
    "detectable_format:json_format": (c.json_format, ()),
    "detectable_format:title": (c.title, ()),
    "combination:two_responses": (c.two_responses, ()),
    "combination:repeat_prompt": (c.repeat_prompt, ("prompt_to_repeat",)),
    "startend:end_checker": (c.end_checker, ("end_phrase",)),
    "change_case:capital_word_frequency": (
        c.capital_word_frequency,
        ("capital_frequency", "capital_relation"),
    ),
    "change_case:english_capital": (c.english_capital, ()),
    "change_case:english_lowercase": (c.english_lowercase, ()),
    "punctuation:no_comma": (c.no_comma, ()),
    "startend:quotation": (c.quotation, ()),
}


class InstructionError(ValueError):
    """An instruction id or its arguments are not usable (a data problem, reported as an error)."""


def clean_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop falsy values, as the reference does (hub rows carry every key, mostly None)."""
    return {key: value for key, value in (kwargs or {}).items() if value}


def validate(instruction_id: str, kwargs: Mapping[str, Any]) -> None:
    if instruction_id not in INSTRUCTIONS:
        raise InstructionError(f"unknown IFEval instruction {instruction_id!r}")
    missing = [name for name in INSTRUCTIONS[instruction_id][1] if name not in kwargs]
    if missing:
        raise InstructionError(f"{instruction_id}: missing arguments {missing}")


def loose_variants(response: str) -> list[str]:
    """The reference's loose variants: drop the first and/or last line, and/or remove every '*'."""
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return [trimmed[0], trimmed[0].replace("*", ""), *trimmed[1:], *(t.replace("*", "") for t in trimmed[1:])]


@dataclass(frozen=True)
class Verdicts:
    strict: list[bool]
    loose: list[bool]


def evaluate(
    response: str, instruction_ids: Sequence[str], kwargs_list: Sequence[Mapping[str, Any]]
) -> Verdicts:
    """Strict and loose verdict of each instruction. Raises InstructionError on unusable data."""
    if len(instruction_ids) != len(kwargs_list):
        raise InstructionError(f"{len(instruction_ids)} instruction ids but {len(kwargs_list)} kwargs")
    variants = [v for v in loose_variants(response) if v.strip()]
    strict, loose = [], []
    for instruction_id, raw in zip(instruction_ids, kwargs_list, strict=True):
        kwargs = clean_kwargs(raw)
        validate(instruction_id, kwargs)
        check = INSTRUCTIONS[instruction_id][0]
        followed = bool(response.strip()) and check(response, kwargs)
        strict.append(followed)
        loose.append(followed or any(check(v, kwargs) for v in variants[1:]))
    return Verdicts(strict, loose)
