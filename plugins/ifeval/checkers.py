"""The 25 IFEval instruction checkers, with the reference semantics of lm-eval's `ifeval` task.

Ported from google-research `instruction_following_eval/instructions.py` (Apache-2.0) as lm-eval 0.4.13
ships it. Each checker is `check(response, kwargs) -> bool`; `kwargs` are the instruction's arguments
from the dataset with falsy values dropped (as the reference does). Differences on purpose: user-given
keywords are matched literally (re.escape), and regexes that backtrack quadratically are replaced by the
linear scans in `scan.py`, which return the same counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from rewardkit.plugins.ifeval import nlp, scan

Kwargs = Mapping[str, Any]
Checker = Callable[[str, Kwargs], bool]
LESS, AT_LEAST = "less than", "at least"
CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def compare(count: int, relation: str, threshold: int) -> bool:
    if relation == LESS:
        return count < threshold
    if relation == AT_LEAST:
        return count >= threshold
    return False  # the reference returns None (falsy) for an unknown relation


def response_language(value: str, kw: Kwargs) -> bool:
    language = nlp.detect_language(value)
    return True if language is None else language == kw["language"]  # reference: undetectable passes


def number_sentences(value: str, kw: Kwargs) -> bool:
    return compare(nlp.sentences_up_to(value, kw["num_sentences"]), kw["relation"], kw["num_sentences"])


def number_placeholders(value: str, kw: Kwargs) -> bool:
    return scan.count_placeholders(value) >= kw["num_placeholders"]


def number_bullet_lists(value: str, kw: Kwargs) -> bool:
    count = scan.count_bullets(value, "*", "*") + scan.count_bullets(value, "-", None)
    return count == kw["num_bullets"]


def constrained_response(value: str, kw: Kwargs) -> bool:
    value = value.strip()
    return any(option in value for option in CONSTRAINED_RESPONSES)


HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")


def number_highlighted_sections(value: str, kw: Kwargs) -> bool:
    count = sum(1 for h in HIGHLIGHT.findall(value) if h.strip("*").strip())
    count += sum(
        1 for h in DOUBLE_HIGHLIGHT.findall(value) if h.removeprefix("**").removesuffix("**").strip()
    )
    return count >= kw["num_highlights"]


def multiple_sections(value: str, kw: Kwargs) -> bool:
    splitter = re.escape(str(kw["section_spliter"]).strip())
    sections = re.split(r"\s?" + splitter + r"\s?\d+\s?", value)
    return len(sections) - 1 >= kw["num_sections"]


def number_paragraphs(value: str, kw: Kwargs) -> bool:
    paragraphs = re.split(r"\s?\*\*\*\s?", value)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, len(paragraphs) - 1):
                count -= 1
            else:
                return False
    return count == kw["num_paragraphs"]


def postscript(value: str, kw: Kwargs) -> bool:
    # The reference searches r"\s*<marker>.*$" (re.M); the optional prefix and the `.*$` tail can always
    # match, so a plain search for the marker is equivalent and cannot backtrack on long whitespace.
    marker = str(kw["postscript_marker"]).strip()
    if marker == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    elif marker == "P.S.":
        pattern = r"p\.\s?s\."
    else:
        pattern = re.escape(marker.lower())
    return re.search(pattern, value.lower()) is not None


def keyword_existence(value: str, kw: Kwargs) -> bool:
    return all(re.search(re.escape(k), value, flags=re.IGNORECASE) for k in kw["keywords"])


def keyword_frequency(value: str, kw: Kwargs) -> bool:
    keyword = re.escape(str(kw["keyword"]).strip())
    count = len(re.findall(keyword, value, flags=re.IGNORECASE))
    return compare(count, kw["relation"], kw["frequency"])


def number_words(value: str, kw: Kwargs) -> bool:
    return compare(nlp.count_words(value), kw["relation"], kw["num_words"])


def json_format(value: str, kw: Kwargs) -> bool:
    value = value.strip()
    for prefix in ("```json", "```Json", "```JSON", "```"):
        value = value.removeprefix(prefix)
    value = value.removesuffix("```").strip()
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


def nth_paragraph_first_word(value: str, kw: Kwargs) -> bool:
    paragraphs = re.split(r"\n\n", value)
    count = len(paragraphs) - sum(1 for p in paragraphs if not p.strip())
    nth = kw["nth_paragraph"]
    if nth > count:
        return False
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for letter in word:
        if letter in {".", ",", "?", "!", "'", '"'}:
            break
        first += letter.lower()
    return count == kw["num_paragraphs"] and first == str(kw["first_word"]).lower()


def forbidden_words(value: str, kw: Kwargs) -> bool:
    return not any(
        re.search(r"\b" + re.escape(w) + r"\b", value, flags=re.IGNORECASE)
        for w in set(kw["forbidden_words"])
    )


def two_responses(value: str, kw: Kwargs) -> bool:
    responses = value.split("******")
    valid = []
    for index, response in enumerate(responses):
        if response.strip():
            valid.append(response)
        elif index not in (0, len(responses) - 1):
            return False
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def repeat_prompt(value: str, kw: Kwargs) -> bool:
    return value.strip().lower().startswith(str(kw["prompt_to_repeat"]).strip().lower())


def end_checker(value: str, kw: Kwargs) -> bool:
    return value.strip().strip('"').lower().endswith(str(kw["end_phrase"]).strip().lower())


def title(value: str, kw: Kwargs) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in scan.titles(value))


def letter_frequency(value: str, kw: Kwargs) -> bool:
    letter = str(kw["letter"]).strip().lower()
    count = value.lower().count(letter) if len(letter) == 1 else 0  # the reference counts characters
    return compare(count, kw["let_relation"], kw["let_frequency"])


def english_capital(value: str, kw: Kwargs) -> bool:
    if not value.isupper():
        return False
    language = nlp.detect_language(value)
    return language is None or language == "en"


def english_lowercase(value: str, kw: Kwargs) -> bool:
    if not value.islower():
        return False
    language = nlp.detect_language(value)
    return language is None or language == "en"


def no_comma(value: str, kw: Kwargs) -> bool:
    return "," not in value


def capital_word_frequency(value: str, kw: Kwargs) -> bool:
    count = nlp.capital_words_up_to(value, kw["capital_frequency"])
    return compare(count, kw["capital_relation"], kw["capital_frequency"])


def quotation(value: str, kw: Kwargs) -> bool:
    value = value.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'
