"""Reading a verdict out of whatever a judge model wrote: JSON, "Score: 7/10", "[[A]]", or a bare word.

An output with no recognisable verdict raises VerdictError: the caller turns it into an error outcome,
never a 0, because a judge that failed to answer says nothing about the policy's completion.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rewardkit.plugins.judge.backends.base import TokenLogprob

VERDICT_KEYS = ("verdict", "score", "rating", "grade", "judgment", "judgement", "winner", "label", "result")
_MARKER = re.compile(
    r"\b(?:final\s+verdict|verdict|score|rating|grade|judge?ment|winner|decision)\b[*_\s]*[:=][*_\s]*"
    r"[\"'\[(]*(?P<token>[A-Za-z]+|\d+(?:\.\d+)?(?:\s*/\s*\d+)?)",
    re.IGNORECASE,
)
_BRACKETS = re.compile(r"\[\[\s*(?P<token>[^\[\]]{1,12}?)\s*\]\]")
_FLAT_JSON = re.compile(r"\{[^{}]*\}")
_FRACTION = re.compile(r"^(\d+(?:\.\d+)?)(?:\s*/\s*\d+)?$")
_REFUSAL = re.compile(
    r"\b(i\s+can(?:'|no)?t|i'm\s+sorry|i\s+am\s+sorry|i\s+won't|unable\s+to\s+(?:comply|help|assist)|as\s+an\s+ai)\b",
    re.IGNORECASE,
)
_STRIP = " \t\r\n*_`\"'\u201c\u201d\u2018\u2019.,;:!?()[]{}<>"  # incl. typographic quotes
BARE_MAX_WORDS = 6


class VerdictError(ValueError):
    """The judge's output holds no usable verdict (or a refusal)."""


@dataclass(frozen=True)
class ParsedVerdict:
    label: str
    value: float
    method: str  # json | marker | brackets | bare
    start: int  # character offset of the verdict token in the judge output


class VerdictParser:
    def __init__(self, labels: Mapping[str, float], aliases: Mapping[str, str] | None = None) -> None:
        self.labels = dict(labels)
        self.lookup = {label.lower(): label for label in labels}
        self.lookup.update({alias.lower(): label for alias, label in (aliases or {}).items()})
        self.numeric = all(_is_number(label) for label in labels)
        values = [float(v) for v in labels.values()]
        self.low, self.high = min(values), max(values)

    def value_of(self, token: str) -> tuple[str, float] | None:
        """The label and raw value a token stands for, or None."""
        word = token.strip(_STRIP).lower()
        if word in self.lookup:
            label = self.lookup[word]
            return label, self.labels[label]
        match = _FRACTION.match(word)
        if self.numeric and match:
            value = float(match.group(1))
            if self.low <= value <= self.high:
                return match.group(1), value
        return None

    def parse(self, text: str) -> ParsedVerdict:
        if not text.strip():
            raise VerdictError("judge returned an empty output")
        for method in (self._json, self._marker, self._brackets, self._bare):
            found = method(text)
            if found is not None:
                return found
        shown = text.strip()[:160]
        if _REFUSAL.search(text):
            raise VerdictError(f"judge refused or gave no verdict: {shown!r}")
        raise VerdictError(f"no verdict among {list(self.labels)} in judge output: {shown!r}")

    def _verdict(self, token: str, method: str, start: int) -> ParsedVerdict | None:
        found = self.value_of(token)
        return ParsedVerdict(found[0], found[1], method, start) if found else None

    def _json(self, text: str) -> ParsedVerdict | None:
        for match in reversed(list(_FLAT_JSON.finditer(text))):
            try:
                data = json.loads(match.group(0))
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            lowered = {str(k).lower(): v for k, v in data.items()}
            for key in VERDICT_KEYS:
                value = lowered.get(key)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    token = str(value)
                    offset = match.group(0).rfind(token)
                    found = self._verdict(token, "json", match.start() + max(offset, 0))
                    if found:
                        return found
        return None

    def _marker(self, text: str) -> ParsedVerdict | None:
        for match in reversed(list(_MARKER.finditer(text))):
            found = self._verdict(match.group("token"), "marker", match.start("token"))
            if found:
                return found
        return None

    def _brackets(self, text: str) -> ParsedVerdict | None:
        for match in reversed(list(_BRACKETS.finditer(text))):
            found = self._verdict(match.group("token"), "brackets", match.start("token"))
            if found:
                return found
        return None

    def _bare(self, text: str) -> ParsedVerdict | None:
        words = text.split()
        if not words or len(words) > BARE_MAX_WORDS:
            return None
        return self._verdict(words[0], "bare", text.find(words[0]))


def weighted_value(
    parser: VerdictParser, text: str, tokens: Sequence[TokenLogprob], verdict: ParsedVerdict
) -> tuple[float, float] | None:
    """Expected raw value over the labels in the top logprobs at the verdict token, and their mass.

    None when the tokens do not spell `text`, or the verdict spans several tokens ("10" as "1" + "0"),
    where a single position's distribution would be misread.
    """
    if "".join(token.token for token in tokens) != text:
        return None
    position = 0
    for token in tokens:
        position += len(token.token)
        if position > verdict.start:
            break
    else:
        return None
    found = parser.value_of(token.token)
    if found is None or found[1] != verdict.value:
        return None
    candidates = {**token.top, token.token: token.logprob}
    mass: dict[float, float] = {}
    for piece, logprob in candidates.items():
        found = parser.value_of(piece)
        if found is not None and math.isfinite(logprob):
            mass[found[1]] = mass.get(found[1], 0.0) + math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return sum(value * p for value, p in mass.items()) / total, total


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
