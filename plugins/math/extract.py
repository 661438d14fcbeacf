"""Finding the final answer in a completion: a configurable, ordered list of strategies. Pure Python.

Every scan is linear or bounded: the text is capped by the caller, regex strategies look only at the tail
(final answers come last), and brace matching of `\\boxed{...}` has a length limit. So a megabyte of
garbage or ten thousand unclosed braces costs milliseconds, not minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rewardkit.plugins.math.normalize import normalize, strip_delimiters

STRATEGIES = ("answer_tag", "boxed", "final_answer", "gsm8k", "expression", "last_math", "last_number")
"""All strategies, in the default order for completions."""
GOLD_STRATEGIES = ("boxed", "answer_tag", "gsm8k", "expression", "final_answer", "last_math", "last_number")

TAIL_CHARS = 8_000  # regex strategies only look this far back from the end
MAX_BOX_CHARS = 4_000  # a boxed answer longer than this is not an answer
MAX_BOXES = 32

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_FINAL = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*[:=]?\s*(.{1,400})", re.IGNORECASE | re.DOTALL
)
_GSM8K = re.compile(r"####\s*([^\n]{1,200})")
_MATH_SEGMENT = re.compile(
    r"\$\$(.{1,2000}?)\$\$|\\\[(.{1,2000}?)\\\]|\\\(([^\n]{1,2000}?)\\\)|(?<![\\$])\$((?:[^$\n\\]|\\.){1,2000}?)\$",
    re.DOTALL,
)
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+,\d{1,2}(?!\d)|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?|[+-]?\.\d+")
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}[\s,]+[A-Za-z]{2,}\b")
_TEXT_ARG = re.compile(r"\\(?:text|mbox|textbf|textnormal|mathrm|operatorname)\s*\{[^{}]*\}")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|I hope", re.IGNORECASE)


@dataclass(frozen=True)
class Extraction:
    """What one strategy found: all candidate answers in order of appearance (usually one)."""

    strategy: str | None = None
    candidates: tuple[str, ...] = ()

    @property
    def answer(self) -> str | None:
        return self.candidates[-1] if self.candidates else None

    @property
    def ambiguous(self) -> bool:
        """Several *different* final answers (two boxes with 3 and 4): the completion hedges."""
        return len(self.candidates) > 1 and len({normalize(c) for c in self.candidates}) > 1


EXPLICIT = frozenset({"answer_tag", "final_answer", "gsm8k"})
JOIN_GAP = re.compile(r"[\s,;$.]*(?:\\\)|\\\(|and|&|\\text\{\s*and\s*\}|\w{1,8})?[\s,;$.()\\]*")


def extract(text: str, order: Sequence[str] = STRATEGIES) -> Extraction:
    """Run the strategies in `order`; the first that finds something wins.

    When the winner is ambiguous (two different boxes), a later *explicit* statement ("The final answer
    is 7", `<answer>`, `####`) still settles it: intermediate results are often boxed too.
    """
    ambiguous: Extraction | None = None
    for name in order:
        if ambiguous is not None and name not in EXPLICIT:
            continue
        found = Extraction(name, _candidates(name, text))
        if found.candidates and not found.ambiguous:
            return found
        if found.candidates and ambiguous is None:
            ambiguous = found
    return ambiguous or Extraction()


def _candidates(name: str, text: str) -> tuple[str, ...]:
    return tuple(c for c in (_clean(raw) for raw in EXTRACTORS[name](text)) if c)


def extract_gold(text: str) -> str | None:
    """The reference answer inside `text` (a bare answer or a worked solution).

    Boxes written next to each other (`\\boxed{1} and \\boxed{2}`) are one list answer; otherwise the
    last answer wins.
    """
    for name in GOLD_STRATEGIES:
        if name in ("boxed", "last_math"):
            spans = find_boxed_spans(text) if name == "boxed" else _math_spans(text)
            if spans:
                return _join_adjacent(text, spans)
            continue
        candidates = _candidates(name, text)
        if candidates:
            return candidates[-1]
    return None


def _join_adjacent(text: str, boxes: list[tuple[int, int]]) -> str:
    """Join the trailing run of boxes separated only by short glue ("and", commas, a unit)."""
    run = [boxes[-1]]
    for previous in reversed(boxes[:-1]):
        gap = text[previous[1] + 1 : run[0][0]]
        gap = gap[: gap.rfind("\\")] if "\\" in gap else gap  # up to the next box command
        if len(gap) > 12:
            break
        run.insert(0, previous)
    return ", ".join(_clean(text[start:end]) for start, end in run)


def _clean(candidate: str) -> str:
    inner = _unbox(candidate.strip())
    return strip_delimiters(inner).strip()


def _unbox(text: str) -> str:
    boxes = list(find_boxed(text))
    return boxes[-1] if len(boxes) == 1 else text


# -- strategies -----------------------------------------------------------------------------------------
def find_answer_tags(text: str) -> list[str]:
    found, position = [], 0
    while (start := text.find("<answer>", position)) != -1:
        end = text.find("</answer>", start)
        if end == -1:
            break  # no later tag can be closed either
        found.append(text[start + len("<answer>") : end])
        position = end + len("</answer>")
    return found


def find_boxed(text: str) -> list[str]:
    """Contents of `\\boxed{...}` / `\\fbox{...}` (nested braces) and `\\boxed 5`, outermost boxes only."""
    return [text[start:end] for start, end in find_boxed_spans(text)]


def find_boxed_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each outermost box's contents, in order."""
    starts = list(_BOX_START.finditer(text))[-MAX_BOXES:]
    found: list[tuple[int, int]] = []
    covered_until = -1
    for match in starts:
        if match.start() < covered_until:
            continue  # a box nested inside the previous one
        if match.group(1) is None:
            spaced = re.match(r"\s+([^\s$]+)", text[match.end() : match.end() + 200])
            if spaced and match.group(0).endswith(("boxed", "fbox")):
                found.append((match.end() + spaced.start(1), match.end() + spaced.end(1)))
            continue
        end = _matching_brace(text, match.end() - 1)
        if end is not None:
            found.append((match.end(), end))
            covered_until = end
    return found


def _matching_brace(text: str, open_index: int) -> int | None:
    depth = 0
    window = text[open_index : open_index + MAX_BOX_CHARS]
    for brace in re.finditer(r"(?<!\\)[{}]", window):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return open_index + brace.start()
    return None


def find_final_answer(text: str) -> list[str]:
    matches = list(_FINAL.finditer(_tail(text)))
    if not matches:
        return []
    phrase = matches[-1].group(1)
    segment = _MATH_SEGMENT.match(phrase)
    if segment:
        return [next(g for g in segment.groups() if g is not None)]
    sentence = _SENTENCE_END.split(phrase, maxsplit=1)[0].strip().strip('"')
    return list(extract(sentence, ("expression", "last_math", "last_number")).candidates)


def find_gsm8k(text: str) -> list[str]:
    return [m.group(1) for m in _GSM8K.finditer(_tail(text))][-1:]


def find_expression(text: str) -> list[str]:
    return [text] if is_expression(text) else []


def is_expression(text: str) -> bool:
    """A completion that is itself an answer (`\\frac{1}{2}`, `x = 5`), not prose around one."""
    inner = strip_delimiters(text)
    if not inner or len(inner) > MAX_BOX_CHARS or "\n\n" in inner:
        return False
    if re.search(r"(?<!\\)\$|\\\(|\\\[", inner):
        return False  # prose with inline math
    return not _PROSE.search(_TEXT_ARG.sub(" ", inner))


def find_last_math(text: str) -> list[str]:
    """The last math segment, unless a bare number comes after it (then that number is the answer)."""
    tail = _tail(text)
    segments = list(_MATH_SEGMENT.finditer(tail))
    if not segments or _NUMBER.search(tail, segments[-1].end()):
        return []
    return [next(g for g in segments[-1].groups() if g is not None)]


def _math_spans(text: str) -> list[tuple[int, int]]:
    offset = max(0, len(text) - TAIL_CHARS)
    spans = []
    for match in _MATH_SEGMENT.finditer(text, offset):
        group = next(i for i, g in enumerate(match.groups(), 1) if g is not None)
        spans.append((match.start(group), match.end(group)))
    if spans and _NUMBER.search(text, spans[-1][1] + 1):
        return []
    return spans


def find_last_number(text: str) -> list[str]:
    return [m.group() for m in _NUMBER.finditer(_tail(text))][-1:]


def _tail(text: str) -> str:
    return text[-TAIL_CHARS:]


EXTRACTORS: dict[str, Callable[[str], Iterable[str]]] = {
    "answer_tag": find_answer_tags,
    "boxed": find_boxed,
    "final_answer": find_final_answer,
    "gsm8k": find_gsm8k,
    "expression": find_expression,
    "last_math": find_last_math,
    "last_number": find_last_number,
}
