"""Multiple-choice answers: option letters with or without their text (`(B) 24`, `B`, `\\textbf{(B)}`).

A gold that is a bare letter is compared by letter; any other gold is compared with the option's text. The
sample's `info["choices"]` (or `info["options"]`: a list in letter order, or a letter -> text mapping) lets a
bare letter stand for its text and the reverse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

LETTERS = "ABCDEFGHIJ"
_BARE = re.compile(r"\s*(?:option\s+|choice\s+)?(?:\\text(?:bf)?\{\s*)?\(?([A-J])\)?(?:\s*\})?[.:]?\s*", re.I)
_LABELLED = re.compile(
    r"\s*(?:\\text(?:bf)?\{\s*)?(?:\(([A-J])\)|([A-J])[.):])(?:\s*\})?\s+(\S.*)", re.DOTALL
)


def bare_letter(answer: str) -> str | None:
    """`B`, `(B)`, `\\text{(B)}`, `Option B` -> "B"; anything else None. Only capitals count as options."""
    match = _BARE.fullmatch(answer)
    return match.group(1) if match and match.group(1).isupper() else None


def labelled_option(answer: str) -> tuple[str, str] | None:
    """`(B) 24`, `B) 24`, `B. 24` -> ("B", "24")."""
    match = _LABELLED.fullmatch(answer)
    if match is None:
        return None
    return match.group(1) or match.group(2), match.group(3).strip()


def option_texts(choices: Any) -> dict[str, str]:
    """Letter -> option text from `info["choices"]`: a list in letter order or a mapping; else empty."""
    if isinstance(choices, Mapping):
        return {str(k).strip("() ").upper(): str(v) for k, v in choices.items()}
    if isinstance(choices, list | tuple):
        texts = {}
        for letter, choice in zip(LETTERS, choices, strict=False):
            labelled = labelled_option(str(choice))
            texts[letter] = labelled[1] if labelled and labelled[0] == letter else str(choice)
        return texts
    return {}


def resolve_options(gold: str, pred: str, choices: Any = None) -> bool | tuple[str, str]:
    """A verdict when both answers name a letter; otherwise the (gold, pred) texts to compare."""
    gold_letter, gold_text = _option(gold)
    pred_letter, pred_text = _option(pred)
    if gold_letter and pred_letter:
        return gold_letter == pred_letter
    texts = option_texts(choices)
    gold = gold_text or (texts.get(gold_letter, gold) if gold_letter else gold)
    pred = pred_text or (texts.get(pred_letter, pred) if pred_letter else pred)
    return gold, pred


def _option(answer: str) -> tuple[str | None, str | None]:
    """(letter, text) of `(B) 24`; (letter, None) of a bare `B`; (None, None) of anything else."""
    labelled = labelled_option(answer)
    return labelled if labelled else (bare_letter(answer), None)
