"""Which part of a completion a language reward reads, and which language it expects."""

from __future__ import annotations

from typing import Any, Literal

from rewardkit.plugins.format.tags import split_think
from rewardkit.plugins.language.detect import identify, normalize
from rewardkit.plugins.language.scripts import words

Part = Literal["reasoning", "answer", "all"]
MIN_PROMPT_WORDS = 3  # below this, guessing the prompt's language is not worth trusting


def select(completion: str, part: Part, think_tag: str = "think") -> str:
    """reasoning: the think block (the whole completion when there is none); answer: what follows the
    think block (the <answer> block if any); all: everything."""
    if part == "all":
        return completion
    split = split_think(completion, think_tag=think_tag)
    if part == "answer":
        return split.answer
    return split.reasoning if split.closed else completion


def target_language(sample: Any, language: str | None, from_prompt: bool) -> str | None:
    """The expected language: the `language` param, else sample.info["language"], else (from_prompt)
    the language of the last user message, as R1 rewards answering in the language of the question."""
    if language:
        return normalize(language)
    info = getattr(sample, "info", None) or {}
    if info.get("language"):
        return normalize(str(info["language"]))
    if not from_prompt:
        return None
    messages = [m for m in getattr(sample, "prompt", None) or [] if m.get("role") == "user"]
    text = str(messages[-1].get("content", "")) if messages else ""
    if len(words(text)) < MIN_PROMPT_WORDS:
        return None
    return identify(text)[0]
