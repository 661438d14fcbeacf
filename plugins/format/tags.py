"""Linear-time parsing of tagged blocks (`<think>…</think>`, `<answer>…</answer>`).

Everything here uses str.find / str.count rather than regular expressions: a lazy `.*?` search retried
from every opening tag is quadratic on adversarial input such as one megabyte of `<think>`.
"""

from __future__ import annotations

from dataclasses import dataclass


def open_tag(name: str) -> str:
    return f"<{name}>"


def close_tag(name: str) -> str:
    return f"</{name}>"


@dataclass(frozen=True)
class Block:
    """One `<tag>content</tag>` occurrence: content and the [start, end) span of the whole block."""

    content: str
    start: int
    end: int


def first_block(text: str, tag: str, start: int = 0) -> Block | None:
    """The first complete block of `tag` at or after `start`, or None."""
    opening, closing = open_tag(tag), close_tag(tag)
    begin = text.find(opening, start)
    if begin < 0:
        return None
    inner = begin + len(opening)
    finish = text.find(closing, inner)
    if finish < 0:
        return None
    return Block(text[inner:finish], begin, finish + len(closing))


def last_block(text: str, tag: str) -> Block | None:
    """The last complete block of `tag` (the final answer when a model restates it), or None."""
    opening, closing = open_tag(tag), close_tag(tag)
    finish = text.rfind(closing)
    if finish < 0:
        return None
    begin = text.rfind(opening, 0, finish)
    if begin < 0:
        return None
    return Block(text[begin + len(opening) : finish], begin, finish + len(closing))


@dataclass(frozen=True)
class ThinkSplit:
    """A completion split into its reasoning and its answer part; `closed` says whether </think> exists."""

    reasoning: str
    answer: str
    closed: bool


def split_think(text: str, think_tag: str = "think", answer_tag: str | None = "answer") -> ThinkSplit:
    """Split into reasoning (inside the think block) and answer (the answer block, or what follows).

    Works whether or not the chat template already opened the think block: the reasoning is what lies
    before the first closing tag, minus an opening tag if the completion has one. Without a closing tag
    there is no reasoning and the whole text is the answer.
    """
    closing = close_tag(think_tag)
    end = text.find(closing)
    if end < 0:
        return ThinkSplit("", _answer_of(text, answer_tag), False)
    opening = open_tag(think_tag)
    begin = text.find(opening, 0, end)
    reasoning = text[begin + len(opening) : end] if begin >= 0 else text[:end]
    return ThinkSplit(reasoning, _answer_of(text[end + len(closing) :], answer_tag), True)


def _answer_of(rest: str, answer_tag: str | None) -> str:
    if answer_tag is None:
        return rest
    block = last_block(rest, answer_tag)
    return block.content if block is not None else rest
