"""Unicode scripts of letters, and which scripts each language is written in (no dependencies)."""

from __future__ import annotations

import bisect
import re

# (first code point, last code point, script) for the scripts of the languages we name below.
RANGES = sorted(
    [
        (0x0041, 0x005A, "Latin"), (0x0061, 0x007A, "Latin"), (0x00C0, 0x024F, "Latin"),
        (0x1E00, 0x1EFF, "Latin"), (0xFF21, 0xFF3A, "Latin"), (0xFF41, 0xFF5A, "Latin"),
        (0x0370, 0x03FF, "Greek"), (0x1F00, 0x1FFF, "Greek"),
        (0x0400, 0x052F, "Cyrillic"),
        (0x0530, 0x058F, "Armenian"),
        (0x0590, 0x05FF, "Hebrew"),
        (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"), (0xFB50, 0xFDFF, "Arabic"),
        (0xFE70, 0xFEFF, "Arabic"),
        (0x0900, 0x097F, "Devanagari"), (0x0980, 0x09FF, "Bengali"), (0x0A00, 0x0A7F, "Gurmukhi"),
        (0x0A80, 0x0AFF, "Gujarati"), (0x0B80, 0x0BFF, "Tamil"), (0x0C00, 0x0C7F, "Telugu"),
        (0x0C80, 0x0CFF, "Kannada"), (0x0D00, 0x0D7F, "Malayalam"), (0x0E00, 0x0E7F, "Thai"),
        (0x10A0, 0x10FF, "Georgian"),
        (0x1100, 0x11FF, "Hangul"), (0x3130, 0x318F, "Hangul"), (0xAC00, 0xD7AF, "Hangul"),
        (0x3040, 0x309F, "Hiragana"), (0x30A0, 0x30FF, "Katakana"), (0xFF66, 0xFF9F, "Katakana"),
        (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"), (0xF900, 0xFAFF, "Han"),
        (0x20000, 0x2FA1F, "Han"),
    ]
)  # fmt: skip
_STARTS = [r[0] for r in RANGES]

CJK_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Hangul", "Thai"})  # written without spaces
LANGUAGE_SCRIPTS: dict[str, frozenset[str]] = {
    "zh": frozenset({"Han"}),
    "ja": frozenset({"Han", "Hiragana", "Katakana"}),
    "ko": frozenset({"Hangul", "Han"}),
    "th": frozenset({"Thai"}),
    "el": frozenset({"Greek"}),
    "he": frozenset({"Hebrew"}),
    "hy": frozenset({"Armenian"}),
    "ka": frozenset({"Georgian"}),
    "bn": frozenset({"Bengali"}),
    "pa": frozenset({"Gurmukhi"}),
    "gu": frozenset({"Gujarati"}),
    "ta": frozenset({"Tamil"}),
    "te": frozenset({"Telugu"}),
    "kn": frozenset({"Kannada"}),
    "ml": frozenset({"Malayalam"}),
    **{code: frozenset({"Cyrillic"}) for code in ("ru", "uk", "bg", "be", "mk", "kk", "mn")},
    **{code: frozenset({"Arabic"}) for code in ("ar", "fa", "ur", "ps")},
    **{code: frozenset({"Devanagari"}) for code in ("hi", "mr", "ne")},
}
# Scripts that, among the languages py3langid knows, essentially identify one language.
DISTINCTIVE = {"Hangul": "ko", "Hiragana": "ja", "Katakana": "ja", "Thai": "th", "Greek": "el",
               "Hebrew": "he", "Armenian": "hy", "Georgian": "ka"}  # fmt: skip

TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)  # runs of letters; split further by script below


def script_of(char: str) -> str | None:
    """The script of a letter, or None for anything we do not classify (digits, symbols, rare scripts)."""
    code = ord(char)
    index = bisect.bisect_right(_STARTS, code) - 1
    if index >= 0 and code <= RANGES[index][1]:
        return RANGES[index][2]
    return None


def scripts_of(language: str) -> frozenset[str]:
    return LANGUAGE_SCRIPTS.get(language, frozenset({"Latin"}))


def words(text: str) -> list[tuple[str, str]]:
    """(word, script) pairs: letter runs of one script; CJK scripts give one word per character.

    Single Latin letters are left out: in reasoning they are almost always variables (x, n, f).
    """
    found: list[tuple[str, str]] = []
    for match in TOKEN.finditer(text):
        token, start, current = match.group(), 0, None
        if token.isascii():  # ASCII letters are all Latin: skips the per-letter lookup for most text
            _flush(found, token, "Latin")
            continue
        for index, char in enumerate(token):
            script = script_of(char) or "Other"
            if script in CJK_SCRIPTS:
                _flush(found, token[start:index], current)
                found.append((char, script))
                start, current = index + 1, None
            elif script != current:
                _flush(found, token[start:index], current)
                start, current = index, script
        _flush(found, token[start:], current)
    return found


def _flush(found: list[tuple[str, str]], word: str, script: str | None) -> None:
    if word and script is not None and not (script == "Latin" and len(word) == 1):
        found.append((word, script))
