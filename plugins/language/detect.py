"""Language identification with py3langid (its model ships inside the wheel: works offline).

Chosen over langdetect and lingua: more accurate and much faster than either on tests/data/language, small
to install, and deterministic (langdetect is random unless seeded); benchmarks/language_detectors.py
prints the comparison.
"""

from __future__ import annotations

from typing import Any

from rewardkit.singleton import process_singleton

INSTALL_HINT = "pip install 'rewardkit[language]'"
MAX_CHARS = 20_000  # identification is settled long before this; keeps 1 MB inputs cheap

NAMES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it", "portuguese": "pt",
    "dutch": "nl", "russian": "ru", "chinese": "zh", "japanese": "ja", "korean": "ko", "arabic": "ar",
    "hindi": "hi", "turkish": "tr", "polish": "pl", "vietnamese": "vi", "indonesian": "id", "thai": "th",
    "ukrainian": "uk", "greek": "el", "hebrew": "he", "persian": "fa", "swedish": "sv", "czech": "cs",
}  # fmt: skip


class DetectorMissing(RuntimeError):
    """py3langid is not installed."""


def normalize(language: str) -> str:
    """'zh-CN' -> 'zh', 'French' -> 'fr', 'EN' -> 'en'."""
    value = language.strip().lower().replace("_", "-")
    return NAMES.get(value, value.split("-")[0])


def identify(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the most likely language of `text`."""
    code, probability = _identifier().classify(_clean(text))
    return str(code), float(probability)


def _clean(text: str) -> str:
    return text[:MAX_CHARS].encode("utf-8", "ignore").decode("utf-8")  # drops lone surrogates


TARGET_FLOOR = 0.1
"""Short sentences spread the detector's probability over related languages ("Two plus two makes four":
Nigerian Pidgin 0.45, English 0.44). So text counts as the target language unless the detector gives
the target less than this probability: only confident evidence of another language costs reward."""


def plausibly(text: str, target: str) -> bool:
    """True unless the detector is confident that `text` is not in `target` (see TARGET_FLOOR)."""
    clean, identifier = _clean(text), _identifier()
    best, probability = identifier.classify(clean)
    if best == target:
        return True
    if probability > 1.0 - TARGET_FLOOR:  # the others share the rest: the target has under the floor
        return False
    return float(dict(identifier.rank(clean)).get(target, 0.0)) >= TARGET_FLOOR


@process_singleton  # built once under a lock: concurrent first imports of the model can deadlock
def _identifier() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError as error:
        raise DetectorMissing(f"language identification needs py3langid: {INSTALL_HINT}") from error
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
