"""Compare offline language detectors on tests/data/language/multilingual.jsonl (accuracy and speed).

Run with any interpreter that has the candidates installed (missing ones are reported and skipped):
    python benchmarks/language_detectors.py
The candidates ship their models inside the wheel, so this runs without network access.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "language" / "multilingual.jsonl"
REPEAT = 5  # timing passes over the sample


def _py3langid() -> Callable[[str], str]:
    import py3langid

    return lambda text: str(py3langid.classify(text)[0])


def _langdetect() -> Callable[[str], str]:
    from langdetect import DetectorFactory, detect

    DetectorFactory.seed = 0  # langdetect is random unless seeded

    def run(text: str) -> str:
        code = str(detect(text))
        return code.split("-", maxsplit=1)[0]  # zh-cn -> zh

    return run


def _lingua() -> Callable[[str], str]:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def run(text: str) -> str:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language else "?"

    return run


CANDIDATES = {"py3langid": _py3langid, "langdetect": _langdetect, "lingua": _lingua}


def main() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(rows)} texts, {len({r['lang'] for r in rows})} languages")
    results = {}
    for name, factory in CANDIDATES.items():
        try:
            started = time.perf_counter()
            detect = factory()
            load_s = time.perf_counter() - started
        except ImportError as error:
            print(f"{name}: not installed ({error})")
            continue
        detect(rows[0]["text"])  # warm-up (lazy model loading)
        correct = {"short": [0, 0], "long": [0, 0]}
        misses = []
        for row in rows:
            guess = detect(row["text"])
            correct[row["kind"]][0] += guess == row["lang"]
            correct[row["kind"]][1] += 1
            if guess != row["lang"]:
                misses.append(f"{row['lang']}->{guess}")
        started = time.perf_counter()
        for _ in range(REPEAT):
            for row in rows:
                detect(row["text"])
        per_text_ms = (time.perf_counter() - started) / (REPEAT * len(rows)) * 1e3
        total = sum(c[0] for c in correct.values()) / len(rows)
        results[name] = per_text_ms
        print(
            f"{name:10s} accuracy {total:.1%} (short {correct['short'][0]}/{correct['short'][1]}, "
            f"long {correct['long'][0]}/{correct['long'][1]}), {per_text_ms:.3f} ms/text, "
            f"load {load_s:.2f} s; misses: {', '.join(misses) or 'none'}"
        )
    if "py3langid" in results:
        base = results["py3langid"]
        print("speed relative to py3langid: " + ", ".join(f"{k} {v / base:.1f}x" for k, v in results.items()))


if __name__ == "__main__":
    main()
