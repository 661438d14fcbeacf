"""`format.think_answer`: the DeepSeek-R1 template `<think>…</think><answer>…</answer>`."""

from __future__ import annotations

from typing import Any, Literal

from rewardkit.plugins.format.tags import close_tag, first_block, open_tag

Mode = Literal["strict", "lenient"]


def think_answer(
    sample: Any,
    completion: str,
    mode: Mode = "strict",
    think_tag: str = "think",
    answer_tag: str | None = "answer",
    think_opened: bool = False,
    allow_empty: bool = False,
) -> float:
    """1.0 if the completion follows the reasoning template, else 0.0.

    strict: the whole completion is one think block then one answer block, in that order, with only
    whitespace outside them; each tag occurs exactly once. lenient: a think block is followed somewhere
    by an answer block; other text and repeats are allowed. `think_opened`: the chat template already
    emitted the opening think tag, so the completion starts inside the reasoning. `answer_tag=None`: the
    answer is the plain text after the think block (R1-distill style).
    """
    text = completion if not think_opened else open_tag(think_tag) + completion
    check = _strict if mode == "strict" else _lenient
    return 1.0 if check(text, think_tag, answer_tag, allow_empty) else 0.0


def _strict(text: str, think_tag: str, answer_tag: str | None, allow_empty: bool) -> bool:
    tags = [open_tag(think_tag), close_tag(think_tag)]
    if answer_tag is not None:
        tags += [open_tag(answer_tag), close_tag(answer_tag)]
    if any(text.count(tag) != 1 for tag in tags):
        return False
    body = text.strip()
    think = first_block(body, think_tag)
    if think is None or think.start != 0:
        return False
    rest = body[think.end :]
    if answer_tag is None:
        return bool(rest.strip()) and (allow_empty or bool(think.content.strip()))
    answer = first_block(rest, answer_tag)
    if answer is None or rest[: answer.start].strip() or answer.end != len(rest):
        return False
    return allow_empty or bool(think.content.strip() and answer.content.strip())


def _lenient(text: str, think_tag: str, answer_tag: str | None, allow_empty: bool) -> bool:
    think = first_block(text, think_tag)
    if think is None:
        return False
    if answer_tag is None:
        return allow_empty or bool(text[think.end :].strip())
    answer = first_block(text, answer_tag, think.end)
    return answer is not None and (allow_empty or bool(answer.content.strip()))
