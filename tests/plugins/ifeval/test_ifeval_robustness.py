"""The linear scans equal the reference regexes, and every checker survives hostile 1 MB input quickly."""

import random
import re
import time

import pytest

from rewardkit.plugins.ifeval.registry import INSTRUCTIONS, evaluate
from rewardkit.plugins.ifeval.scan import count_bullets, count_placeholders, titles

MB = 1 << 20


def random_texts(alphabet: str, n: int = 3000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(n)]


def test_bullet_scan_equals_reference_regexes() -> None:
    for text in random_texts("*- \n\ta\u00a0"):
        stars = len(re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE))
        dashes = len(re.findall(r"^\s*-.*$", text, flags=re.MULTILINE))
        assert count_bullets(text, "*", "*") == stars, repr(text)
        assert count_bullets(text, "-", None) == dashes, repr(text)


def test_placeholder_and_title_scans_equal_reference_regexes() -> None:
    for text in random_texts("[]<>\na "):
        assert count_placeholders(text) == len(re.findall(r"\[.*?\]", text)), repr(text)
        assert titles(text) == re.findall(r"<<[^\n]+>>", text), repr(text)


KWARGS = {
    "keywords": ["tide"],
    "keyword": "tide",
    "frequency": 2,
    "relation": "at least",
    "forbidden_words": ["tide"],
    "letter": "a",
    "let_frequency": 2,
    "let_relation": "at least",
    "language": "en",
    "num_sentences": 3,
    "num_paragraphs": 2,
    "num_words": 10,
    "nth_paragraph": 1,
    "first_word": "the",
    "num_placeholders": 1,
    "postscript_marker": "P.S.",
    "num_bullets": 2,
    "num_highlights": 2,
    "section_spliter": "Section",
    "num_sections": 2,
    "prompt_to_repeat": "Say it",
    "end_phrase": "Bye",
    "capital_frequency": 2,
    "capital_relation": "at least",
}
HOSTILE = {
    "whitespace": " \n\t" * (MB // 3),
    "open brackets": "[" * MB,
    "angles": "<<" * (MB // 2),
    "stars": "*" * MB,
    "text": ("The sea is calm. " * (MB // 17)),
    "binary": bytes(random.Random(1).randrange(256) for _ in range(8192)).decode("latin-1"),
}


@pytest.mark.parametrize("instruction", sorted(INSTRUCTIONS))
def test_hostile_input_is_fast_and_never_raises(instruction: str) -> None:
    kwargs = {name: KWARGS[name] for name in INSTRUCTIONS[instruction][1]}
    for label, text in HOSTILE.items():
        started = time.perf_counter()
        verdicts = evaluate(text, [instruction], [kwargs])
        assert isinstance(verdicts.strict[0], bool)
        # Punkt and the word tokenizer take a few seconds per MB on a loaded CI core; regex checks are ms
        assert time.perf_counter() - started < 30, (instruction, label)
