"""Word segmentation shared by the format rewards: whitespace words, and one word per CJK character."""

from __future__ import annotations

import re

# Han, kana, Hangul syllables and CJK punctuation-free ranges: these scripts do not separate words with
# spaces, so each character counts as one word (the usual convention for CJK length limits).
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
WORD = re.compile(f"[{CJK}]|[^\\s{CJK}]+")


def words(text: str) -> list[str]:
    if text.isascii():  # fast path: no CJK possible, and str.split is much faster than the regex
        return text.split()
    return WORD.findall(text)


def count_words(text: str) -> int:
    if text.isascii():
        return len(text.split())
    return sum(1 for _ in WORD.finditer(text))
