"""Deterministic responses that exercise every IFEval instruction type, positively and negatively.

Used by benchmarks/ifeval_agreement.py. Each generator returns (kwargs, response) cases; about half are
built to follow the instruction and half to break it, many of them close to a threshold or using the
markdown variants that the loose metric strips, so that disagreements with the reference show.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "The river runs past the old mill.",
    "Mr. Smith arrived at 5 p.m. on Friday.",
    "Prices rose by 3.5 percent last year.",
    "She asked whether the U.S. office was open.",
    "Why would anyone build a bridge there?",
    "We finally reached the summit!",
    "The committee approved the plan, although several members objected.",
    "Dr. Jones studied the samples in the lab.",
    "It rained all day, so the match was cancelled.",
    "Our team ships a new release every month.",
    "Bread, cheese and apples were on the table.",
    "The museum opens at 9 a.m. and closes at noon.",
    'He said "hello" and walked away.',
    "This approach, e.g. caching, saves time.",
    "They met in Jan. and again in Sept. of that year.",
    "Most birds migrate south in autumn.",
    "The answer is 42.",
    "However, the data tell a different story.",
    "Visit example.com for details.",
    "Nobody expected the results to be so clear...",
]
WORDS = [
    "river",
    "mill",
    "price",
    "bridge",
    "summit",
    "team",
    "data",
    "table",
    "museum",
    "story",
    "plan",
    "bird",
    "cheese",
    "apple",
    "light",
]
Case = tuple[dict[str, Any], str]


def paragraph(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(SENTENCES) for _ in range(n))


def relation(rng: random.Random) -> str:
    return rng.choice(["less than", "at least"])


def sentences_case(rng: random.Random) -> Case:
    n = rng.randint(1, 8)
    text = paragraph(rng, n + rng.choice([-1, 0, 0, 1]) if n > 1 else n)
    if rng.random() < 0.3:
        text = text.replace(". ", ".\n")
    return {"num_sentences": n, "relation": relation(rng)}, text


def placeholders_case(rng: random.Random) -> Case:
    n = rng.randint(1, 4)
    k = max(0, n + rng.choice([-1, 0, 1]))
    parts = [paragraph(rng, 1)] + [
        rng.choice(["[name]", "[address]", "[ date ]", "[x", "[]"]) for _ in range(k)
    ]
    return {"num_placeholders": n}, " ".join(parts) + rng.choice(["", "\n[open", " [a\nb]"])


def bullets_case(rng: random.Random) -> Case:
    n = rng.randint(1, 5)
    k = max(0, n + rng.choice([-1, 0, 0, 1]))
    style = rng.choice(["* ", "- ", "  * ", "*", "** "])
    lines = [f"{style}{rng.choice(SENTENCES)}" for _ in range(k)]
    return {"num_bullets": n}, "Here you go:\n" + "\n".join(lines) + rng.choice(["", "\n\nDone.", "\n***"])


def constrained_case(rng: random.Random) -> Case:
    answer = rng.choice(
        ["My answer is yes.", "My answer is no.", "My answer is maybe.", "My answer is yes", "Yes."]
    )
    return {}, rng.choice(["", "I think so. ", "  "]) + answer


def highlights_case(rng: random.Random) -> Case:
    n = rng.randint(1, 4)
    k = max(0, n + rng.choice([-1, 0, 1]))
    marks = [rng.choice(["*key point*", "**bold part**", "* *", "*multi\nline*", "*note*"]) for _ in range(k)]
    return {"num_highlights": n}, paragraph(rng, 1) + " " + " and ".join(marks)


def sections_case(rng: random.Random) -> Case:
    n = rng.randint(1, 5)
    k = max(0, n + rng.choice([-1, 0, 1]))
    splitter = rng.choice(["Section", "SECTION", "Day", "PARAGRAPH"])
    used = splitter if rng.random() < 0.8 else splitter.lower()
    body = "\n".join(f"{used} {i + 1}\n{paragraph(rng, 2)}" for i in range(k))
    return {"section_spliter": splitter, "num_sections": n}, body


def paragraphs_case(rng: random.Random) -> Case:
    n = rng.randint(1, 5)
    k = max(1, n + rng.choice([-1, 0, 0, 1]))
    sep = rng.choice(["\n***\n", " *** ", "\n\n***\n\n", "\n* * *\n"])
    text = sep.join(paragraph(rng, 2) for _ in range(k))
    if rng.random() < 0.2:
        text = "***\n" + text
    if rng.random() < 0.15:
        text = text.replace(sep, sep + "***", 1)
    return {"num_paragraphs": n}, text


def postscript_case(rng: random.Random) -> Case:
    marker = rng.choice(["P.S.", "P.P.S"])
    tail = rng.choice(["P.S. see you soon", "p.s. thanks", "P.P.S. one more", "p. p. s again", "PS nope", ""])
    return {"postscript_marker": marker}, paragraph(rng, 2) + "\n\n" + tail


def keywords_case(rng: random.Random) -> Case:
    keywords = rng.sample(WORDS, 2)
    text = paragraph(rng, 3)
    if rng.random() < 0.5:
        text += " " + " ".join(k.upper() if rng.random() < 0.3 else k for k in keywords)
    return {"keywords": keywords}, text


def frequency_case(rng: random.Random) -> Case:
    keyword, n = rng.choice(WORDS), rng.randint(1, 4)
    k = max(0, n + rng.choice([-1, 0, 1]))
    return {"keyword": keyword, "frequency": n, "relation": relation(rng)}, (
        paragraph(rng, 1) + " " + " ".join(f"the {keyword}s" for _ in range(k))
    )


def forbidden_case(rng: random.Random) -> Case:
    words = rng.sample(WORDS, 2)
    text = paragraph(rng, 2)
    choice = rng.random()
    if choice < 0.4:
        text += f" A {rng.choice(words).capitalize()} appears."
    elif choice < 0.6:
        text += f" The {words[0]}s and {words[1]}ed things."  # not whole words
    return {"forbidden_words": words}, text


def letter_case(rng: random.Random) -> Case:
    letter, n = rng.choice("aeistzq"), rng.randint(1, 12)
    k = max(0, n + rng.choice([-1, 0, 1]))
    filler = "".join(c for c in paragraph(rng, 1) if c.lower() != letter)
    return {"letter": letter, "let_frequency": n, "let_relation": relation(rng)}, (
        filler + " " + (letter.upper() if rng.random() < 0.3 else letter) * k
    )


def language_texts() -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    path = ROOT / "tests" / "data" / "language" / "multilingual.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.setdefault(row["lang"], []).append(row["text"])
    return texts


def language_case(rng: random.Random) -> Case:
    texts = language_texts()
    wanted = rng.choice(["en", "fr", "de", "es", "ru", "ja", "ko", "hi", "ar", "it", "pt"])
    actual = wanted if rng.random() < 0.5 else rng.choice(sorted(texts))
    text = " ".join(rng.sample(texts[actual], 2))
    if rng.random() < 0.15:
        text = "12345 !!! 678"  # no letters: langdetect finds no features
    return {"language": wanted}, text


def number_words_case(rng: random.Random) -> Case:
    n = rng.randint(5, 60)
    words = paragraph(rng, 8).split()
    k = max(1, n + rng.choice([-1, 0, 1, -5, 5]))
    return {"num_words": n, "relation": relation(rng)}, " ".join((words * 4)[:k])


def json_case(rng: random.Random) -> Case:
    payload = json.dumps({"title": rng.choice(SENTENCES), "items": [1, 2, 3]})
    return {}, rng.choice(
        [
            payload,
            f"```json\n{payload}\n```",
            f"```JSON\n{payload}\n```",
            f"```\n{payload}\n```",
            f"Here it is:\n```json\n{payload}\n```",
            payload[:-1],
            "{'a': 1}",
            f"  {payload}  ",
            "[1, 2,]",
        ]
    )


def nth_paragraph_case(rng: random.Random) -> Case:
    n = rng.randint(1, 5)
    nth = rng.randint(1, n)
    first = rng.choice(WORDS)
    paragraphs = [paragraph(rng, 2) for _ in range(n + rng.choice([-1, 0, 0, 1]) or 1)]
    if nth <= len(paragraphs) and rng.random() < 0.7:
        prefix = rng.choice([first, first.capitalize(), f'"{first}', f"{first},", f"{first}s"])
        paragraphs[nth - 1] = f"{prefix} {paragraphs[nth - 1]}"
    return {"num_paragraphs": n, "nth_paragraph": nth, "first_word": first}, "\n\n".join(paragraphs)


def two_responses_case(rng: random.Random) -> Case:
    a, b = paragraph(rng, 2), paragraph(rng, 2)
    return {}, rng.choice(
        [
            f"{a}\n******\n{b}",
            f"{a}\n******\n{a}",
            f"{a}******{b}******",
            f"{a}",
            f"{a}\n******\n\n******\n{b}",
            f"******\n{a}\n******\n{b}",
            f"{a} ****** {b} ****** {a}",
        ]
    )


def repeat_case(rng: random.Random) -> Case:
    prompt = "Write a short note about " + rng.choice(WORDS) + ". Then explain why."
    return {"prompt_to_repeat": prompt}, rng.choice(
        [
            f"{prompt}\n{paragraph(rng, 2)}",
            f"  {prompt.upper()} {paragraph(rng, 1)}",
            f"Sure! {prompt}",
            prompt[:-3],
        ]
    )


def end_case(rng: random.Random) -> Case:
    phrase = rng.choice(["Is there anything else I can help with?", "Any other questions?", "Peace."])
    return {"end_phrase": phrase}, paragraph(rng, 2) + rng.choice(
        [f" {phrase}", f' "{phrase}"', f" {phrase.lower()}  \n", f" {phrase} Bye.", f" {phrase[:-1]}"]
    )


def title_case(rng: random.Random) -> Case:
    return {}, rng.choice(
        ["<<My Title>>\n", "<< >>\n", "<<a\nb>>\n", "<<<x>>>", "<<>>", "no title\n", "<< joy >> and <<x"]
    ) + paragraph(rng, 2)


def capital_words_case(rng: random.Random) -> Case:
    n = rng.randint(1, 8)
    k = max(0, n + rng.choice([-1, 0, 1]))
    shouty = " ".join(rng.choice(["NOW", "VERY", "U.S.", "DON'T", "OK.", "A", "I"]) for _ in range(k))
    return {"capital_frequency": n, "capital_relation": relation(rng)}, paragraph(rng, 2) + " " + shouty


def english_capital_case(rng: random.Random) -> Case:
    text = paragraph(rng, 3)
    return {}, rng.choice(
        [
            text.upper(),
            text,
            text.upper() + " ok",
            "VOICI UNE RÉPONSE EN FRANÇAIS, TOUT EN MAJUSCULES.",
            "123 456",
        ]
    )


def english_lowercase_case(rng: random.Random) -> Case:
    text = paragraph(rng, 3)
    return {}, rng.choice(
        [
            text.lower(),
            text,
            text.lower() + " OK",
            "voici une réponse en français, tout en minuscules.",
            "...",
        ]
    )


def no_comma_case(rng: random.Random) -> Case:
    text = paragraph(rng, 3)
    return {}, rng.choice([text, text.replace(",", ""), text.replace(",", "\uff0c")])


def quotation_case(rng: random.Random) -> Case:
    text = paragraph(rng, 2)
    return {}, rng.choice([f'"{text}"', f'  "{text}"\n', f"“{text}”", text, '"', f'"{text}'])


GENERATORS: dict[str, Callable[[random.Random], Case]] = {
    "length_constraints:number_sentences": sentences_case,
    "detectable_content:number_placeholders": placeholders_case,
    "detectable_format:number_bullet_lists": bullets_case,
    "detectable_format:constrained_response": constrained_case,
    "detectable_format:number_highlighted_sections": highlights_case,
    "detectable_format:multiple_sections": sections_case,
    "length_constraints:number_paragraphs": paragraphs_case,
    "detectable_content:postscript": postscript_case,
    "keywords:existence": keywords_case,
    "keywords:frequency": frequency_case,
    "keywords:forbidden_words": forbidden_case,
    "keywords:letter_frequency": letter_case,
    "language:response_language": language_case,
    "length_constraints:number_words": number_words_case,
    "detectable_format:json_format": json_case,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_case,
    "combination:two_responses": two_responses_case,
    "combination:repeat_prompt": repeat_case,
    "startend:end_checker": end_case,
    "detectable_format:title": title_case,
    "change_case:capital_word_frequency": capital_words_case,
    "change_case:english_capital": english_capital_case,
    "change_case:english_lowercase": english_lowercase_case,
    "punctuation:no_comma": no_comma_case,
    "startend:quotation": quotation_case,
}
LOOSE_WRAPPERS = ["{}", "Sure, here is my answer:\n{}", "{}\nI hope this helps!", "**{}**"]


def cases(per_type: int = 40, seed: int = 0) -> Iterator[dict[str, Any]]:
    """`per_type` cases for each of the 25 types, some wrapped in an intro/outro line or bold markers."""
    rng = random.Random(seed)
    for instruction_id, generate in GENERATORS.items():
        for index in range(per_type):
            kwargs, response = generate(rng)
            wrapper = LOOSE_WRAPPERS[index % len(LOOSE_WRAPPERS)] if index % 3 == 0 else "{}"
            yield {
                "id": f"{instruction_id}#{index}",
                "instruction_id": instruction_id,
                "kwargs": kwargs,
                "prompt": "",
                "response": wrapper.format(response),
            }
