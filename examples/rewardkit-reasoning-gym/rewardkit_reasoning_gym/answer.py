"""The answer of an R1-format completion: the text of its last <answer>...</answer> block."""

from __future__ import annotations


def extract_answer(completion: str, tag: str = "answer") -> str | None:
    """The stripped text inside the last `<tag>...</tag>` pair, or None when there is none.

    Searched from the end with `rfind`, so a long completion full of unclosed tags costs one pass.
    """
    close = completion.rfind(f"</{tag}>")
    if close < 0:
        return None
    opening = f"<{tag}>"
    start = completion.rfind(opening, 0, close)
    if start < 0:
        return None
    return completion[start + len(opening) : close].strip()


def normalize(answer: str) -> str:
    """Whitespace-insensitive form for exact comparison: runs of whitespace become one space."""
    return " ".join(answer.split())
