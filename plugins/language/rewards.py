"""The language rewards: language.id, language.match, language.consistency, language.script_mixing."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from rewardkit import RewardResult
from rewardkit.plugins.language.detect import DetectorMissing, identify, plausibly
from rewardkit.plugins.language.parts import Part, select, target_language
from rewardkit.plugins.language.scripts import scripts_of, words

SENTENCE_END = re.compile("[.!?;:\u3002\uff01\uff1f\uff1b\uff1a\n]+")  # with CJK full stops
MIN_DETECT_WORDS = 3  # shorter runs of a shared script are too short to identify; they get the benefit
SHARED_SCRIPTS = frozenset({"Latin", "Cyrillic", "Arabic", "Devanagari", "Han"})
SPACED_SHARED_SCRIPTS = SHARED_SCRIPTS - {"Han"}  # shared scripts written with spaces between words


def language_id(sample: Any, completion: str, part: Part = "answer") -> RewardResult | None:
    """The detector's probability for its best guess (a metric); the language code is in info."""
    text = select(completion, part)
    if not words(text):
        return None
    try:
        code, probability = identify(text)
    except DetectorMissing as error:
        return RewardResult.failure(str(error))
    return RewardResult(
        min(1.0, max(0.0, probability)), {"probability": probability}, info={"language": code}
    )


def language_match(
    sample: Any, completion: str, language: str | None = None, part: Part = "answer", from_prompt: bool = True
) -> RewardResult | None:
    """1.0 if the part is in the target language, 0.0 if not; None without a target or without words."""
    try:
        target = target_language(sample, language, from_prompt)
        if target is None:
            return None
        found = in_language(select(completion, part), target)
    except DetectorMissing as error:
        return RewardResult.failure(str(error))
    return None if found is None else RewardResult(float(found), info={"target": target})


def in_language(text: str, target: str) -> bool | None:
    counts = Counter(script for _, script in words(text))
    if not counts:
        return None
    dominant = counts.most_common(1)[0][0]
    if dominant not in scripts_of(target):
        return False
    if dominant not in SHARED_SCRIPTS:
        return True
    return plausibly(text, target)


def language_consistency(
    sample: Any,
    completion: str,
    language: str | None = None,
    part: Part = "reasoning",
    from_prompt: bool = True,
) -> RewardResult | None:
    """DeepSeek-R1's language-consistency reward: the share of words of the reasoning in the target
    language. Words in another script never count; in a script several languages share (Latin, Cyrillic,
    …) each sentence's words are identified together. CJK characters count one word each."""
    try:
        target = target_language(sample, language, from_prompt)
        if target is None:
            return None
        hits, total = consistent_words(select(completion, part), target)
    except DetectorMissing as error:
        return RewardResult.failure(str(error))
    if total == 0:
        return None
    return RewardResult(hits / total, {"words": float(total)}, info={"target": target})


def consistent_words(text: str, target: str) -> tuple[int, int]:
    """(words in the target language, words) over the sentences of `text`."""
    allowed = scripts_of(target)
    # degenerate completions repeat one sentence thousands of times: identify each distinct one once
    counted: dict[str, tuple[int, int]] = {}
    hits = total = 0
    for sentence in SENTENCE_END.split(text):
        if sentence not in counted:
            counted[sentence] = _sentence_counts(sentence, target, allowed)
        sentence_hits, sentence_total = counted[sentence]
        hits += sentence_hits
        total += sentence_total
    return hits, total


def _sentence_counts(sentence: str, target: str, allowed: frozenset[str]) -> tuple[int, int]:
    found = words(sentence)
    distinct = sum(1 for _, script in found if script in allowed and script not in SHARED_SCRIPTS)
    han = [word for word, script in found if script == "Han" and script in allowed]
    other = [word for word, script in found if script in allowed and script in SPACED_SHARED_SCRIPTS]
    hits = distinct
    # Han beside kana or Hangul is Japanese kanji / Korean hanja; alone it is judged as Chinese text
    if han and (distinct or _plausible(han, target, joiner="")):
        hits += len(han)
    if other and _plausible(other, target, joiner=" "):
        hits += len(other)
    return hits, len(found)


def _plausible(group: list[str], target: str, joiner: str) -> bool:
    return len(group) < MIN_DETECT_WORDS or plausibly(joiner.join(group), target)


def script_mixing(
    sample: Any, completion: str, language: str | None = None, part: Part = "all", from_prompt: bool = False
) -> RewardResult | None:
    """Share of letters in the expected scripts (1.0 = no mixing): the target language's scripts, or
    without a target the dominant script (with its usual companions: kana with Han, Han with Hangul)."""
    try:
        target = target_language(sample, language, from_prompt)
    except DetectorMissing as error:
        return RewardResult.failure(str(error))
    letters: Counter[str] = Counter()
    for word, script in words(select(completion, part)):
        letters[script] += len(word)
    total = sum(letters.values())
    if total == 0:
        return None
    main = scripts_of(target) if target else _family(letters.most_common(1)[0][0])
    share = sum(n for script, n in letters.items() if script in main) / total
    return RewardResult(share, {"mixed": 1.0 - share, "scripts": float(len(letters))})


def _family(script: str) -> frozenset[str]:
    if script in {"Han", "Hiragana", "Katakana"}:
        return frozenset({"Han", "Hiragana", "Katakana"})
    if script == "Hangul":
        return frozenset({"Hangul", "Han"})
    return frozenset({script})
