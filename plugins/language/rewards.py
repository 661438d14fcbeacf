"""The language rewards: language.id, language.match, language.consistency, language.script_mixing."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from rewardkit import RewardResult
from rewardkit.plugins.format.tags import split_think
from rewardkit.plugins.language.detect import DetectorMissing, identify, plausibly
from rewardkit.plugins.language.parts import Part, select, target_language
from rewardkit.plugins.language.scripts import scripts_of, words

SENTENCE_END = re.compile("[.!?;:\u3002\uff01\uff1f\uff1b\uff1a\n]+")  # with CJK full stops
MIN_DETECT_WORDS = 3  # shorter runs of a shared script are too short to identify; they get the benefit
POOL_WORDS = 200  # the pool of short sentences' words is identified from its first words
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
    min_words: int = MIN_DETECT_WORDS,
) -> RewardResult | None:
    """DeepSeek-R1's language-consistency reward: the share of words of the reasoning in the target
    language. Words in another script never count; in a script several languages share (Latin, Cyrillic,
    …) each sentence's words are identified together, and short sentences are pooled and identified as one
    text. CJK characters count one word each.

    Does not apply (None) without a target, when `part` has fewer than `min_words` words (too few to tell a
    language from gibberish), and, with `part="reasoning"`, to a completion without a closed think block:
    the missing block is `format.think_answer`'s to score. `part="all"` reads the whole completion.
    """
    if part == "reasoning" and not split_think(completion).closed:
        return RewardResult(score=None, info={"reason": "no think block"})
    try:
        target = target_language(sample, language, from_prompt)
        if target is None:
            return None
        hits, total = consistent_words(select(completion, part), target)
    except DetectorMissing as error:
        return RewardResult.failure(str(error))
    if total < max(1, min_words):
        return RewardResult(score=None, components={"words": float(total)}, info={"reason": "too few words"})
    return RewardResult(hits / total, {"words": float(total)}, info={"target": target})


def _validate_consistency_params(params: dict[str, Any]) -> None:
    if params.get("min_words", MIN_DETECT_WORDS) < 1:
        raise ValueError("min_words must be at least 1")


language_consistency.validate_params = _validate_consistency_params  # type: ignore[attr-defined]


def consistent_words(text: str, target: str) -> tuple[int, int]:
    """(words in the target language, words) over the sentences of `text`."""
    allowed = scripts_of(target)
    # degenerate completions repeat one sentence thousands of times: identify each distinct one once
    counted: dict[str, tuple[int, int, list[str]]] = {}
    hits = total = pooled = 0
    pool: list[str] = []  # words of short sentences in a shared script, identified together at the end
    for sentence in SENTENCE_END.split(text):
        if sentence not in counted:
            counted[sentence] = _sentence_counts(sentence, target, allowed)
        sentence_hits, sentence_total, short = counted[sentence]
        hits += sentence_hits
        total += sentence_total
        pooled += len(short)
        if len(pool) < POOL_WORDS:
            pool += short
    if pooled and _plausible(pool, target, joiner=" "):
        hits += pooled
    return hits, total


def _sentence_counts(sentence: str, target: str, allowed: frozenset[str]) -> tuple[int, int, list[str]]:
    """(hits, words, words left to the pool): a sentence's shared-script words too few to identify alone
    are returned for the pool instead of being given the benefit of the doubt one sentence at a time."""
    found = words(sentence)
    distinct = sum(1 for _, script in found if script in allowed and script not in SHARED_SCRIPTS)
    han = [word for word, script in found if script == "Han" and script in allowed]
    other = [word for word, script in found if script in allowed and script in SPACED_SHARED_SCRIPTS]
    hits = distinct
    # Han beside kana or Hangul is Japanese kanji / Korean hanja; alone it is judged as Chinese text
    if han and (distinct or _plausible(han, target, joiner="")):
        hits += len(han)
    if len(other) >= MIN_DETECT_WORDS:
        hits += len(other) if plausibly(" ".join(other), target) else 0
        other = []
    return hits, len(found), other


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
