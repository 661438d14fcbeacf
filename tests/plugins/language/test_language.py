# ruff: noqa: RUF001  (CJK punctuation in test texts is intended)
import json
import random
from pathlib import Path

import pytest

from rewardkit import Sample, user
from rewardkit.host import PluginHost
from rewardkit.outcome import normalize
from rewardkit.plugins import language as lang
from rewardkit.plugins.language import rewards
from rewardkit.plugins.language.detect import identify
from rewardkit.plugins.language.detect import normalize as normalize_code
from rewardkit.plugins.language.scripts import words

DATA = Path(__file__).resolve().parents[2] / "data" / "language" / "multilingual.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
FR = Sample("fr", [user("Quelle est la somme de deux et deux ?")])


def test_detector_accuracy_on_the_multilingual_sample() -> None:
    correct = sum(identify(row["text"])[0] == row["lang"] for row in ROWS)
    assert len({row["lang"] for row in ROWS}) >= 10
    assert correct / len(ROWS) >= 0.95
    assert all(identify(row["text"])[0] == row["lang"] for row in ROWS if row["kind"] == "long")


def test_match_for_every_language_of_the_sample() -> None:
    for row in ROWS:
        if row["kind"] != "long":
            continue
        sample = Sample("s", [user("x")], info={"language": row["lang"]})
        assert rewards.language_match(sample, row["text"]).score == 1.0, row["lang"]
        other = "en" if row["lang"] != "en" else "fr"
        assert rewards.language_match(sample, row["text"], language=other).score == 0.0, row["lang"]


def test_match_target_sources() -> None:
    answer = "<think>...</think><answer>La réponse est quatre, bien sûr.</answer>"
    assert rewards.language_match(FR, answer).score == 1.0  # target from the prompt's language
    assert rewards.language_match(FR, answer, language="English").score == 0.0
    assert rewards.language_match(FR, answer, from_prompt=False) is None  # no target: does not apply
    assert rewards.language_match(FR, "<answer>42</answer>") is None  # no words to judge
    assert normalize_code("zh-CN") == "zh"


def test_consistency_latin_mixed() -> None:
    pure = "<think>Je dois additionner deux et deux. Cela fait quatre.</think><answer>4</answer>"
    mixed = (
        "<think>Je dois additionner deux et deux. Let me double check this result carefully. "
        "Cela fait quatre.</think><answer>4</answer>"
    )
    assert rewards.language_consistency(FR, pure).score == 1.0
    score = rewards.language_consistency(FR, mixed).score
    assert score == pytest.approx(9 / 16)  # 7 English words out of 16


def test_consistency_cjk_target_and_mixed_scripts() -> None:
    zh = Sample("zh", [user("计算一加一等于几？")], info={"language": "zh"})
    assert rewards.language_consistency(zh, "<think>我们先计算一加一，结果是二。</think>2").score == 1.0
    # variables (single Latin letters) are neutral; an English phrase is not Chinese
    assert rewards.language_consistency(zh, "<think>设 x 等于一，所以 x 加一等于二。</think>").score == 1.0
    mixed = rewards.language_consistency(zh, "<think>我们先计算 let me check the answer 结果是二</think>")
    assert mixed.score == pytest.approx(9 / 14)  # 9 Han characters, 5 English words
    ja = Sample("ja", [user("x")], info={"language": "ja"})
    assert rewards.language_consistency(ja, "<think>答えは二です。</think>").score == 1.0


def test_consistency_does_not_apply_without_a_think_block_unless_asked_to_read_everything() -> None:
    for text in ("The answer is four, obviously.", "xq", "zzzz zzzz zzzz zzzz"):
        result = rewards.language_consistency(FR, text)
        assert result.score is None and result.info == {"reason": "no think block"}
    assert rewards.language_consistency(FR, "The answer is four, obviously.", part="all").score == 0.0


def test_consistency_gives_gibberish_no_marks() -> None:
    en = Sample("en", [user("What is the capital of France?")])
    too_short = rewards.language_consistency(en, "<think>xq zv</think>Paris")
    assert too_short.score is None and too_short.info == {"reason": "too few words"}
    for reasoning in ("asdkj. qwpoe. zxmcn. vbnmx. lkjhq.", "asdkj qwpoe zxmcn vbnmx lkjhq"):
        assert rewards.language_consistency(en, f"<think>{reasoning}</think>Paris").score == 0.0, reasoning
    # short sentences of real English are pooled and recognised as English
    short_english = "<think>Paris. Yes. I am sure. The capital. Of France.</think>Paris"
    assert rewards.language_consistency(en, short_english).score == 1.0
    assert rewards.language_consistency(en, "<think>Paris.</think>Paris", min_words=1).score == 1.0


def test_consistency_rejects_a_minimum_below_one_when_the_rubric_is_built() -> None:
    from rewardkit import ConfigError, make_rubric

    with pytest.raises(ConfigError, match="min_words must be at least 1"):
        make_rubric({"language.consistency": {"weight": 0.1, "min_words": 0}})


def test_script_mixing() -> None:
    assert rewards.script_mixing(None, "Hello world").score == 1.0
    result = rewards.script_mixing(None, "Hello world мир")
    assert result.score == pytest.approx(10 / 13)
    assert rewards.script_mixing(None, "日本語のテキストです").score == 1.0  # kana with Han is one family
    assert rewards.script_mixing(None, "12345 +-") is None
    assert rewards.script_mixing(None, "bonjour привет", language="ru").score == pytest.approx(6 / 13)


def test_id_reports_language_and_probability() -> None:
    result = rewards.language_id(None, "<think>x</think><answer>Der Hund schläft im Garten.</answer>")
    assert result.info["language"] == "de"
    assert 0.5 < result.score <= 1.0


def test_words_split_scripts_and_cjk_characters() -> None:
    assert words("我们 check x 세계") == [
        ("我", "Han"),
        ("们", "Han"),
        ("check", "Latin"),
        ("세", "Hangul"),
        ("계", "Hangul"),
    ]


MB = 1 << 20


@pytest.mark.parametrize("name", sorted(lang.REWARDS))
def test_hostile_inputs_in_range_without_error(name: str) -> None:
    rng = random.Random(0)
    garbage = "".join(chr(rng.randrange(0x10FFFF)) for _ in range(4096))
    inputs = ["", "word " * (MB // 5), "我" * MB, garbage, "\x00" * 100, "<think>" * 1000]
    host = PluginHost()
    host.add_plugin("language", lang)
    fn = host.reward(name).fn
    for text in inputs:
        for sample in (FR, None):
            result = normalize(fn(sample, text), name, (0.0, 1.0))
            assert result.error is None, (name, result.error)
            assert result.score is None or 0.0 <= result.score <= 1.0


def test_consistency_on_the_multilingual_sample() -> None:
    own = [rewards.language_consistency(None, r["text"], language=r["lang"], part="all").score for r in ROWS]
    assert sum(score == 1.0 for score in own) >= 0.97 * len(ROWS)
    for row in ROWS:
        other = "en" if row["lang"] != "en" else "fr"
        assert rewards.language_consistency(None, row["text"], language=other, part="all").score == 0.0, row


def test_short_english_reasoning_is_not_penalised() -> None:
    # py3langid alone calls "Two plus two makes four" Nigerian Pidgin (0.45 vs English 0.44)
    text = (
        "<think>Two plus two makes four. Wait let me recompute. So the answer is 4.</think><answer>4</answer>"
    )
    assert rewards.language_consistency(None, text, language="en").score == 1.0


def test_a_repeated_sentence_is_identified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = lang.rewards.plausibly

    def counted(text: str, target: str) -> bool:
        calls.append(text)
        return real(text, target)

    monkeypatch.setattr(lang.rewards, "plausibly", counted)
    looping = "<think>" + "The answer is 42. Let me check again. " * 10_000 + "</think>"
    assert rewards.language_consistency(None, looping, language="en").score == 1.0
    assert sorted(calls) == ["Let me check again", "The answer is", "The answer is"]  # first has no space


@pytest.mark.parametrize("target", ["en", "fr", "de", "es"])
def test_plausibly_agrees_with_the_detectors_full_ranking(target: str) -> None:
    from rewardkit.plugins.language.detect import TARGET_FLOOR, _identifier, plausibly

    for row in ROWS:
        ranked = dict(_identifier().rank(row["text"]))
        expected = max(ranked, key=ranked.__getitem__) == target or ranked.get(target, 0.0) >= TARGET_FLOOR
        assert plausibly(row["text"], target) == expected, (row, target)
