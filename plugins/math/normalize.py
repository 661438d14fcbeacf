"""Cheap string clean-up of a final answer before any parsing: pure Python, no sympy.

The point is to make surface variants identical (`\\dfrac` vs `\\frac`, `1{,}000` vs `1000`, `\\$10` vs `10`,
`90^\\circ` vs `90`), so the plain-number fast path catches most answers and sympy sees fewer oddities.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Spacing and sizing commands that never change a value.
_DROP = re.compile(
    r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big|displaystyle|textstyle|limits|;|:|quad|qquad)(?![a-zA-Z])"
    r"|(?<!\\)\\ |~"
)
# `\!` and `\,` are also written as thousands separators (`10,\!000`, `10\,000`): drop them without a space.
_THIN = re.compile(r"\\!\s*|(?<=[\d,])\\,(?=\d)")
_MATRIX = re.compile(r"\\(begin|end)\{[bBp]matrix\}")
# `\\le` typed with a doubled backslash (an escaping slip); `\\` before a letter is not a row break there.
_DOUBLED = re.compile(r"(?<!\\)\\\\(?=[a-zA-Z])")
_FRAC_ALIASES = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![a-zA-Z])")
_PERCENT = re.compile(
    r"\\?%|\uff05|\\percent(?![a-zA-Z])|(?<![^\W\d_])(?:percent|per\s?cent|pct)(?![^\W\d_])", re.I
)
_CURRENCY = re.compile(r"\\\$|\$|€|£|¥|\\(?:pounds|euro|textdollar)(?![a-zA-Z])")
_CURRENCY_CODE = re.compile(r"^(?:US|USD|EUR|GBP|JPY|CNY|RMB|INR|Rs\.?)\s*(?=[-+]?\.?\d)")
# Words after a value are units or the counted thing (`14 dollars`, `10 cm^2`, `5 m/s`, `12个`): they never
# change the verdict. One letter after a number is a variable (`2 x`, `2m`), unless in a compound (`m/s`).
_UNIT_WORD = r"(?:[^\W\d_]+/[^\W\d_]+|(?!(?:and|or|pi|inf|infinity)\b)[^\W\d_]{2,}\.?)(?:\^\{?\d\}?|[²³])?"
_UNITS_AFTER_VALUE = re.compile(
    rf"(?<=[\d}})])(?:\s+{_UNIT_WORD})+\s*$"
    r"|(?<=\d)(?:cm|mm|km|kg|mg|ml|min|ft|lbs?|oz|mph|km/h|m/s)(?:\^\{?\d\}?|[²³])?\s*$"
    r"|(?<=\d)\s*[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+\s*$"
)
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}"
)
_GROUPED_THOUSANDS = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_THOUSANDS = re.compile(r"(?<![\d.(\[])([1-9]\d{0,2})((?:,\d{3})+)(?![\d)\]])")
_UNIT_WORDS = re.compile(
    r"\s*\\(?:text|mbox|textnormal|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\^\{?\d\}?)?\s*$"
)
_TRAILING = re.compile(r"[\s.;,]+$")
_APPROX = re.compile(r"\\approx|≈")
_SPACES = re.compile(r"\s+")

MATH_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))


def strip_delimiters(text: str) -> str:
    """Remove one level of math delimiters around the whole string: `$x$`, `\\(x\\)`, `\\[x\\]`."""
    text = text.strip()
    for left, right in MATH_DELIMITERS:
        if text.startswith(left) and text.endswith(right) and len(text) >= len(left) + len(right):
            inner = text[len(left) : len(text) - len(right)]
            if left != "$" or "$" not in inner:
                return inner.strip()
    return text


def remove_units(text: str) -> str:
    """Drop a trailing unit (`\\text{ cm}^2`, `14 dollars`), never the whole answer (`\\text{east}` stays)."""
    stripped = _UNITS_AFTER_VALUE.sub("", _UNIT_WORDS.sub("", text))
    return stripped if stripped.strip() else text


def is_percentage(answer: str) -> bool:
    """Written as a percentage (`35%`, `35\\%`, `35 percent`): graded as 35 or as 0.35."""
    return _PERCENT.search(answer) is not None


@lru_cache(maxsize=8192)  # pure, and gold answers repeat across a group of completions
def normalize(answer: str) -> str:
    """Canonical surface form of a final answer; equal outputs mean equal answers."""
    text = strip_delimiters(answer)
    if "\\begin" not in text:
        text = _DOUBLED.sub(r"\\", text)
    text = _before_approx(text)
    text = _THIN.sub("", text)
    text = _DROP.sub(" ", text)
    text = _MATRIX.sub(r"\\\1{pmatrix}", text)
    text = _FRAC_ALIASES.sub(r"\\frac", text)
    text = _DEGREES.sub("", text)
    text = _PERCENT.sub("", text)
    text = _CURRENCY.sub("", text).strip()
    text = _CURRENCY_CODE.sub("", text)
    text = remove_units(text)
    text = _GROUPED_THOUSANDS.sub("", text)
    text = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), text)
    text = _SPACES.sub(" ", text).strip()
    text = _TRAILING.sub("", text)
    return strip_delimiters(text)


def _before_approx(text: str) -> str:
    """`\\frac{\\sqrt3}{3} \\approx 0.577` keeps the exact part; `x \\approx 11` keeps the value."""
    parts = _APPROX.split(text, maxsplit=1)
    if len(parts) == 1:
        return text
    return parts[0] if re.search(r"\d", parts[0]) else parts[1]


def plain_text(answer: str) -> str:
    """Last-resort textual form: text commands unwrapped, no spaces or case (`\\text{East}` ~ `east`)."""
    text = normalize(answer)
    for _ in range(3):  # nested text commands are rare and shallow
        text = _TEXT_CMD.sub(r"\1", text)
    return re.sub(r"[\s{}]", "", text).lower()
