"""`format.reasoning_steps`: counts explicit step markers (open-r1's `reasoning_steps_reward`)."""

from __future__ import annotations

import re
from typing import Any

from rewardkit import RewardResult

# Two simple patterns instead of one case-insensitive alternation: each starts with a literal or an
# anchor, so `re` skips ahead quickly, and neither has a nested quantifier (linear time).
WORD_MARKER = re.compile(r"\b(?:step \d+\s*[:.)]|(?:first|second|third|next|then|finally),)")  # on lower()
LINE_MARKER = re.compile(r"^[ \t]*(?:\d+[.)]|[-*•])[ \t]", re.MULTILINE)


def count_steps(text: str) -> int:
    """Markers: "Step 1:", "First," / "Next," / "Finally," …, and numbered or bulleted lines."""
    return len(WORD_MARKER.findall(text.lower())) + len(LINE_MARKER.findall(text))


def reasoning_steps(sample: Any, completion: str, min_steps: int = 3) -> RewardResult:
    """min(1, markers / min_steps), where markers are "Step 1:", numbered or bulleted lines, "First,"…"""
    count = count_steps(completion)
    return RewardResult(min(1.0, count / max(1, min_steps)), {"steps": float(count)})
