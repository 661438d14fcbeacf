"""`format.length` (target band) and `format.overlong` (DAPO's soft overlong penalty)."""

from __future__ import annotations

import functools
from typing import Any, Literal

from rewardkit import RewardResult
from rewardkit.plugins.format.text import count_words

Unit = Literal["words", "chars", "tokens"]


def length(
    sample: Any,
    completion: str,
    target: int | None = None,
    min: int | None = None,  # config keys read best as min/max
    max: int | None = None,
    unit: Unit = "words",
    tokenizer: str | None = None,
    overlong: int | None = None,
) -> RewardResult:
    """Length shaping. Band mode (default): 1.0 inside [min, max] (or at `target`), falling linearly to 0
    at length 0 below and at twice the bound above. With `overlong=N` and `max`: DAPO's soft overlong
    penalty instead, 0 up to max-N, a linear ramp to -1 over the last N units, -1 beyond max.
    """
    try:
        n = measure(completion, unit, tokenizer)
    except Exception as error:  # tokenizer failed to load: infrastructure, not the completion
        return RewardResult.failure(f"cannot count {unit}: {error}")
    problem = _params_problem(target, min, max, unit, tokenizer, overlong)
    if problem is not None:  # called directly; through a rubric the params were checked when it was built
        return RewardResult.failure(problem)
    if overlong is not None and max is not None:
        return RewardResult(overlong_penalty(n, max, overlong), {"length": float(n)})
    low, high = (target, target) if target is not None else (min, max)
    return RewardResult(band_score(n, low, high), {"length": float(n)})


def _params_problem(
    target: int | None = None,
    min: int | None = None,
    max: int | None = None,
    unit: Unit = "words",
    tokenizer: str | None = None,
    overlong: int | None = None,
) -> str | None:
    if overlong is not None and max is None:
        return "overlong=N needs max (the hard length limit), e.g. {overlong: 512, max: 4096}"
    if target is None and min is None and max is None:
        return "give target, or min and/or max, e.g. format.length: {weight: 0.1, target: 200}"
    if unit == "tokens" and tokenizer is None:
        return "unit: tokens needs tokenizer (a Hugging Face tokenizer name or path)"
    return None


def _validate_length_params(params: dict[str, Any]) -> None:
    problem = _params_problem(**params)
    if problem is not None:
        raise ValueError(problem)


length.validate_params = _validate_length_params  # type: ignore[attr-defined]


def overlong(
    sample: Any, completion: str, max: int, cache: int, unit: Unit = "words", tokenizer: str | None = None
) -> RewardResult:
    """DAPO soft overlong punishment: 0 up to max-cache, linear to -1 at max, -1 beyond."""
    return length(sample, completion, max=max, unit=unit, tokenizer=tokenizer, overlong=cache)


def band_score(n: int, low: int | None, high: int | None) -> float:
    if low is not None and n < low:
        return n / low if low > 0 else 1.0
    if high is not None and n > high:
        return 0.0 if high <= 0 else max(0.0, 1.0 - (n - high) / high)
    return 1.0


def overlong_penalty(n: int, max_length: int, cache: int) -> float:
    safe = max_length - cache
    if n <= safe:
        return 0.0
    if n <= max_length:
        return (safe - n) / cache if cache > 0 else 0.0
    return -1.0


def measure(text: str, unit: Unit, tokenizer: str | None = None) -> int:
    if unit == "chars":
        return len(text)
    if unit == "words":
        return count_words(text)
    if tokenizer is None:
        raise ValueError("unit='tokens' needs tokenizer=<name or path of a Hugging Face tokenizer>")
    return len(_tokenizer(tokenizer)(text, add_special_tokens=False)["input_ids"])


@functools.lru_cache(maxsize=4)
def _tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer  # deferred: heavy, and only token counts need it

    return AutoTokenizer.from_pretrained(name)
