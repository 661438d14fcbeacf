"""Finding the final answer in a completion: a configurable, ordered list of strategies. Pure Python.

The first strategy in the order that finds an answer wins; each strategy lists every answer it finds, in
order, and the grader takes the last one (the last box, the last answer tag, the last "the answer is") unless
its `selection` policy is strict. That is the convention of the MATH benchmark, Qwen2.5-Math and verl.

Every scan is linear or bounded: the text is capped by the caller, regex strategies look only at the tail
(final answers come last), and brace matching of `\\boxed{...}` has a length limit, so adversarial text
(a megabyte of garbage, ten thousand unclosed braces) cannot make extraction slow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rewardkit.plugins.math.normalize import normalize, strip_delimiters

STRATEGIES = ("answer_tag", "boxed", "final_answer", "gsm8k", "expression", "last_math", "last_number")
"""All strategies, in the default order for completions."""
GOLD_STRATEGIES = ("boxed", "answer_tag", "gsm8k", "expression", "final_answer", "last_math", "last_number")
EXPLICIT = frozenset({"answer_tag", "boxed", "final_answer", "gsm8k"})
"""Strategies that find a stated final answer; the others are fallbacks that guess one."""

TAIL_CHARS = 8_000  # regex strategies only look this far back from the end
MAX_BOX_CHARS = 4_000  # a boxed answer longer than this is not an answer
MAX_BOXES = 32
MAX_STATEMENTS = 16  # "the answer is" phrases looked at, from the end
MAX_STATEMENT_CHARS = 400

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
# "The final answer is", "Answer:", and the same in Chinese, Japanese, Korean, French, German, Spanish,
# Portuguese, Italian and Russian.
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer\s*:\s*)?(?:the\s+)?(?:final\s+)?answer(?:\*\*|__)?\s*(?:is|was|:|=)"
    r"|答案\s*(?:是|为|為|[:\uff1a])|答え\s*(?:は|[:\uff1a])|正解\s*(?:は|[:\uff1a])|(?:정답|답)\s*(?:은|는|:)"
    r"|réponse(?:\s+finale)?\s*(?:est|:)|antwort\s*(?:ist|lautet|:)|ist\s+die\s+(?:endgültige\s+)?antwort"
    r"|respuesta(?:\s+final)?\s*(?:es|:)"
    r"|resposta(?:\s+final)?\s*(?:é|:)|risposta(?:\s+finale)?\s*(?:è|:)|ответ\s*(?:—|:|равен)",
    re.IGNORECASE,
)
_GSM8K = re.compile(r"####\s*([^\n]{1,200})")
_MATH_SEGMENT = re.compile(
    r"\$\$(.{1,2000}?)\$\$|\\\[(.{1,2000}?)\\\]|\\\(([^\n]{1,2000}?)\\\)|(?<![\\$])\$((?:[^$\n\\]|\\.){1,2000}?)\$",
    re.DOTALL,
)
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+,\d{1,2}(?!\d)|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?|[+-]?\.\d+")
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}[\s,]+[A-Za-z]{2,}\b")
_TEXT_ARG = re.compile(r"\\(?:text|mbox|textbf|textnormal|mathrm|operatorname)\s*\{[^{}]*\}")
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n|。|I hope", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1", re.DOTALL)
# Words between an answer phrase and the answer ("the answer is *simply* 12", "la réponse est *donc* 12").
_FILLER = re.compile(
    r"^(?:(?!(?:sin|cos|tan|cot|sec|csc|log|ln|exp|sqrt|max|min|gcd|lcm)\b)[^\W\d_]{2,}[ \t]+)+"
    r"(?=[-+\d$\\(\[{.])"
)


@dataclass(frozen=True)
class Found:
    """One answer a strategy found, and where in the completion it starts."""

    position: int
    text: str


@dataclass(frozen=True)
class Extraction:
    """What the winning strategy found: all candidate answers in order of appearance (usually one)."""

    strategy: str | None = None
    candidates: tuple[str, ...] = ()
    truncated: bool = False
    """A box was opened after the last closed one and never closed: the final answer was cut off."""

    @property
    def answer(self) -> str | None:
        """The last answer: a later box or statement corrects an earlier one."""
        return self.candidates[-1] if self.candidates else None

    @property
    def ambiguous(self) -> bool:
        """Several *different* answers (two boxes with 3 and 4): a self-correction, or a hedge."""
        return _ambiguous(self.candidates)


def _ambiguous(answers: Sequence[str]) -> bool:
    return len(answers) > 1 and len({normalize(a) for a in answers}) > 1


def extract(text: str, order: Sequence[str] = STRATEGIES) -> Extraction:
    """Run the strategies in `order`; the first that finds something wins.

    When the winner found several different answers (intermediate results are often boxed too), an
    explicit statement written after the last of them ("The final answer is 7", `<answer>`, `####`)
    settles it. An unclosed final box stops the search: no fallback may guess a cut-off answer.
    """
    winner: tuple[str, list[Found]] | None = None
    for name in order:
        if winner is None and name == "boxed" and unclosed_final_box(text):
            return Extraction("boxed", truncated=True)
        if winner is not None and name not in EXPLICIT:
            continue
        found = _found(name, text)
        if winner is not None:
            found = [f for f in found if f.position > winner[1][-1].position]
        if not found:
            continue
        if not _ambiguous([f.text for f in found]):
            return Extraction(name, tuple(f.text for f in found))
        winner = winner or (name, found)
    return Extraction(winner[0], tuple(f.text for f in winner[1])) if winner else Extraction()


def _found(name: str, text: str) -> list[Found]:
    cleaned = (Found(f.position, _clean(f.text)) for f in EXTRACTORS[name](text))
    return [f for f in cleaned if f.text]


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
        found = _found(name, text)
        if found:
            return found[-1].text
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
    inner = _unbox(unemphasize(candidate.strip()))
    return strip_delimiters(inner).strip()


def unemphasize(text: str) -> str:
    """Markdown emphasis around an answer (`**15**`, `__15__`, `*15*`) is not part of it."""
    text = _EMPHASIS.sub(r"\2", text)
    if len(text) > 2 and text[0] == text[-1] == "*":
        text = text[1:-1]
    return text


def _unbox(text: str) -> str:
    boxes = find_boxed_spans(text)
    return text[boxes[0][0] : boxes[0][1]] if len(boxes) == 1 else text


# -- strategies -----------------------------------------------------------------------------------------
def find_answer_tags(text: str) -> list[Found]:
    """`<answer>...</answer>` blocks; prose inside one ("The total is 42 apples.") yields its answer."""
    found, position = [], 0
    while (start := text.find("<answer>", position)) != -1:
        end = text.find("</answer>", start)
        if end == -1:
            break  # no later tag can be closed either
        content = text[start + len("<answer>") : end]
        found.append(Found(start, _answer_in_prose(content)))
        position = end + len("</answer>")
    return found


def _answer_in_prose(content: str) -> str:
    if is_expression(content) or find_boxed_spans(content):
        return content
    inner = extract(content, ("final_answer", "last_math", "last_number"))
    return inner.answer or content


def find_boxed(text: str) -> list[Found]:
    """Contents of `\\boxed{...}` / `\\fbox{...}` (nested braces) and `\\boxed 5`, outermost boxes only."""
    return [Found(start, text[start:end]) for start, end in find_boxed_spans(text)]


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


def unclosed_final_box(text: str) -> bool:
    """Whether the last box command opens a brace that never closes (a completion cut off mid-answer)."""
    starts = list(_BOX_START.finditer(text, max(0, len(text) - TAIL_CHARS)))
    last = starts[-1] if starts else None
    if last is None or last.group(1) is None:
        return False
    spans = find_boxed_spans(text)
    if spans and spans[-1][1] > last.start():
        return False  # the last box command is nested inside a closed box
    return _matching_brace(text, last.end() - 1) is None


def _matching_brace(text: str, open_index: int) -> int | None:
    depth = 0
    window = text[open_index : open_index + MAX_BOX_CHARS]
    for brace in re.finditer(r"(?<!\\)[{}]", window):
        depth += 1 if brace.group() == "{" else -1
        if depth == 0:
            return open_index + brace.start()
    return None


def find_final_answer(text: str) -> list[Found]:
    """The answer after each "the (final) answer is" / "答案是" / "la réponse est" ..., up to the next one."""
    tail, offset = _tail(text)
    phrases = list(_ANSWER_PHRASE.finditer(tail))[-MAX_STATEMENTS:]
    ends = [following.start() for following in phrases[1:]] + [len(tail)] if phrases else []
    found = []
    for phrase, end in zip(phrases, ends, strict=True):
        answer = _statement_answer(tail[phrase.end() : min(end, phrase.end() + MAX_STATEMENT_CHARS)])
        if answer:
            found.append(Found(offset + phrase.end(), answer))
    return found


def _statement_answer(statement: str) -> str | None:
    statement = unemphasize(statement).lstrip(" \t:=*_\uff1a")
    segment = _MATH_SEGMENT.match(statement)
    if segment:
        return next(g for g in segment.groups() if g is not None)
    sentence = _SENTENCE_END.split(statement, maxsplit=1)[0].strip().strip('"')
    sentence = _FILLER.sub("", sentence)
    return extract(sentence, ("boxed", "expression", "last_math", "last_number")).answer


def find_gsm8k(text: str) -> list[Found]:
    tail, offset = _tail(text)
    return [Found(offset + m.start(1), m.group(1)) for m in _GSM8K.finditer(tail)][-1:]


def find_expression(text: str) -> list[Found]:
    return [Found(0, text)] if is_expression(text) else []


def is_expression(text: str) -> bool:
    """A completion that is itself an answer (`\\frac{1}{2}`, `x = 5`), not prose around one."""
    inner = strip_delimiters(text)
    if not inner or len(inner) > MAX_BOX_CHARS or "\n\n" in inner:
        return False
    if re.search(r"(?<!\\)\$|\\\(|\\\[", inner):
        return False  # prose with inline math
    return not _PROSE.search(_TEXT_ARG.sub(" ", inner))


def find_last_math(text: str) -> list[Found]:
    """The last math segment, unless a bare number comes after it (then that number is the answer)."""
    tail, offset = _tail(text)
    segments = list(_MATH_SEGMENT.finditer(tail))
    if not segments or _NUMBER.search(tail, segments[-1].end()):
        return []
    last = segments[-1]
    group = next(i for i, g in enumerate(last.groups(), 1) if g is not None)
    return [Found(offset + last.start(group), last.group(group))]


def _math_spans(text: str) -> list[tuple[int, int]]:
    offset = max(0, len(text) - TAIL_CHARS)
    spans = []
    for match in _MATH_SEGMENT.finditer(text, offset):
        group = next(i for i, g in enumerate(match.groups(), 1) if g is not None)
        spans.append((match.start(group), match.end(group)))
    if spans and _NUMBER.search(text, spans[-1][1] + 1):
        return []
    return spans


def find_last_number(text: str) -> list[Found]:
    tail, offset = _tail(text)
    return [Found(offset + m.start(), m.group()) for m in _NUMBER.finditer(tail)][-1:]


def _tail(text: str) -> tuple[str, int]:
    offset = max(0, len(text) - TAIL_CHARS)
    return text[offset:], offset


EXTRACTORS: dict[str, Callable[[str], list[Found]]] = {
    "answer_tag": find_answer_tags,
    "boxed": find_boxed,
    "final_answer": find_final_answer,
    "gsm8k": find_gsm8k,
    "expression": find_expression,
    "last_math": find_last_math,
    "last_number": find_last_number,
}
