"""`format.regex`: full or partial match of a configured pattern, with a match deadline."""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

from rewardkit import RewardResult

Mode = Literal["full", "partial"]
FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE"}


def regex_match(
    sample: Any,
    completion: str,
    pattern: str,
    mode: Mode = "full",
    flags: str = "",
    strip: bool = True,
    timeout: float = 1.0,
) -> RewardResult:
    """1.0 if `pattern` matches the whole (stripped) completion (mode="full") or somewhere in it
    (mode="partial"), else 0.0.

    A configured pattern can backtrack catastrophically; when the `regex` package is installed the match
    runs under `timeout` seconds and an overrun is reported as an error naming the pattern.
    """
    text = completion.strip() if strip else completion
    try:
        compiled, has_timeout = _compile(pattern, flags)
    except Exception as error:
        return RewardResult.failure(f"format.regex: invalid pattern {pattern!r}: {error}")
    method = compiled.fullmatch if mode == "full" else compiled.search
    try:
        found = method(text, timeout=timeout) if has_timeout else method(text)
    except TimeoutError:
        return RewardResult.failure(
            f"format.regex: pattern {pattern!r} exceeded {timeout:g}s", kind="timeout"
        )
    return RewardResult(1.0 if found else 0.0)


@functools.lru_cache(maxsize=256)
def _compile(pattern: str, flags: str) -> tuple[Any, bool]:
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown flags {''.join(sorted(unknown))!r}; use any of {''.join(FLAGS)}")
    try:
        import regex  # supports a per-call timeout; `re` cannot be interrupted
    except ImportError:
        value = sum((getattr(re, FLAGS[f]) for f in flags), 0)
        return re.compile(pattern, value), False
    value = sum((getattr(regex, FLAGS[f]) for f in flags), 0)
    return regex.compile(pattern, value | regex.VERSION0), True
