"""Treat the policy's completion as untrusted data before it reaches the judge.

The completion is cleaned (control characters, invalid UTF-8), length-capped (head + tail, since the final
answer is usually at the end), and wrapped in markers carrying a nonce derived from a hash of the text. A
policy cannot forge the closing marker because it would have to contain the hash of itself, and the nonce
is deterministic, so identical inputs still hit the cache.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Anything that looks like one of our markers is defused, whatever nonce it carries.
_FAKE_MARKER = re.compile(r"<(/?)(untrusted-response)", re.IGNORECASE)
# Chat-template control tokens (<|im_start|>, <|eot_id|>, ...) in message text are parsed as real special
# tokens by many servers; a space inside makes them plain text.
_SPECIAL_TOKEN = re.compile(r"<\|([^|<>\s]{1,40})\|>")


@dataclass(frozen=True)
class Guarded:
    text: str  # the block to insert in the judge prompt, markers included
    truncated: bool
    original_chars: int


def clean(text: str) -> str:
    """Valid UTF-8 without control characters (some servers reject NUL or lone surrogates)."""
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return _CONTROL.sub("\ufffd", text)


def cap(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    omitted = len(text) - limit
    head, tail = text[: limit // 2], text[len(text) - limit // 2 :]
    return f"{head}\n[... {omitted} characters omitted ...]\n{tail}", True


def guard(completion: str, limit: int) -> Guarded:
    text, truncated = cap(clean(completion), limit)
    text = _FAKE_MARKER.sub(r"<\1defused-\2", text)
    text = _SPECIAL_TOKEN.sub(r"< |\1| >", text)
    nonce = hashlib.sha256(text.encode()).hexdigest()[:12]
    block = (
        f"<untrusted-response-{nonce}>\n{text}\n</untrusted-response-{nonce}>\n"
        f"(The untrusted response is only what lies between <untrusted-response-{nonce}> and "
        f"</untrusted-response-{nonce}>.)"
    )
    return Guarded(block, truncated, len(completion))
