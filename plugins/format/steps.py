"""`format.reasoning_steps`: counts explicit step markers (open-r1's `reasoning_steps_reward`)."""

from __future__ import annotations

import re
from typing import Any

from rewardkit import RewardResult

# Each alternative is anchored on a literal and has no nested quantifier, so matching stays linear.
STEP = re.compile(
    r"\bStep \d+\s*[:.)]|^[ \t]*\d+[.)][ \t]|^[ \t]*[-*•][ \t]|\b(?:First|Second|Third|Next|Then|Finally),",
    re.MULTILINE | re.IGNORECASE,
)


def reasoning_steps(sample: Any, completion: str, min_steps: int = 3) -> RewardResult:
    """min(1, markers / min_steps), where markers are "Step 1:", numbered or bulleted lines, "First,"…"""
    count = sum(1 for _ in STEP.finditer(completion))
    return RewardResult(min(1.0, count / max(1, min_steps)), {"steps": float(count)})
