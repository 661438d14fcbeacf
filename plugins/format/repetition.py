"""`format.repetition`: n-gram repetition penalty (open-r1's `repetition_penalty_reward`)."""

from __future__ import annotations

from typing import Any

from rewardkit import RewardResult
from rewardkit.plugins.format.text import words


def repetition(sample: Any, completion: str, ngram_size: int = 3, max_penalty: float = -1.0) -> RewardResult:
    """`max_penalty * (1 - distinct n-grams / n-grams)`: 0 for no repeated n-gram, towards max_penalty
    for a completion that loops. Texts shorter than one n-gram get 0."""
    if not -1.0 <= max_penalty <= 0.0 or ngram_size < 1:
        return RewardResult.failure("format.repetition: needs -1 <= max_penalty <= 0 and ngram_size >= 1")
    tokens = [w.lower() for w in words(completion)]
    total = len(tokens) - ngram_size + 1
    if total <= 0:
        return RewardResult(0.0, {"repeated": 0.0})
    distinct = len(set(zip(*(tokens[i:] for i in range(ngram_size)), strict=False)))
    repeated = 1.0 - distinct / total
    return RewardResult(max_penalty * repeated, {"repeated": repeated})
