"""Math rows shared by the serving benchmarks: GSM8K gold answers with completions of the shapes a policy
writes (answer tags, boxes, prose, wrong answers, equivalent forms), in batches of 64."""

from __future__ import annotations

import itertools
from typing import Any

from math_common import corpus

FORMS = [
    "<think>Let me compute.</think>\n<answer>{a}</answer>",
    "The total is \\boxed{{{a}}}.",
    "<think>Hmm.</think>\n<answer>{w}</answer>",
    "Final answer: <answer> {a} </answer>",
    "<answer>{a}/1</answer>",
    "I think it is {w}.",
    "<answer>\\frac{{{a2}}}{{2}}</answer>",
    "no answer here",
]


def math_rows(count: int) -> list[dict[str, Any]]:
    """`count` rows {"sample": {...}, "completion": str}, cycling over GSM8K's answers and FORMS."""
    answers = [str(row["final_answer"]) for row in corpus("gsm8k_test.jsonl")]
    rows = []
    for index, (answer, form) in enumerate(zip(itertools.cycle(answers), itertools.cycle(FORMS))):
        if index == count:
            break
        number = (
            float(answer.replace(",", ""))
            if answer.replace(",", "").lstrip("-").replace(".", "").isdigit()
            else 1.0
        )
        completion = form.format(a=answer, w=int(number) + 7, a2=int(2 * number))
        rows.append({"sample": {"id": f"gsm8k-{index}", "answer": answer}, "completion": completion})
    return rows


def batches(rows: list[dict[str, Any]], size: int = 64) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
