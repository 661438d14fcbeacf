from rewardkit.plugins.format.json_format import json_format
from rewardkit.plugins.format.regex_match import regex_match

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}


def test_json_bare_and_fenced() -> None:
    assert json_format(None, '{"a": 1}').score == 1.0
    assert json_format(None, 'Here:\n```json\n{"a": [1, 2]}\n```\nDone.').score == 1.0
    assert json_format(None, "```\n[1, 2]\n```").score == 1.0
    assert json_format(None, "{'a': 1}").score == 0.0  # Python dict, not JSON
    assert json_format(None, '{"a": 1').score == 0.0
    assert json_format(None, "").score == 0.0


def test_json_fence_policy() -> None:
    fenced, bare = '```json\n{"a": 1}\n```', '{"a": 1}'
    assert json_format(None, fenced, fence="require").score == 1.0
    assert json_format(None, bare, fence="require").score == 0.0
    assert json_format(None, fenced, fence="forbid").score == 0.0
    assert json_format(None, bare, fence="forbid").score == 1.0


def test_json_schema() -> None:
    ok = json_format(None, '{"name": "Ada", "age": 36}', schema=SCHEMA)
    assert ok.score == 1.0
    assert ok.components == {"json": 1.0, "schema": 1.0}
    bad = json_format(None, '{"name": "Ada", "age": -1}', schema=SCHEMA)
    assert bad.score == 0.0
    assert bad.components["schema"] == 0.0
    assert bad.info["schema_errors"]
    assert json_format(None, '{"name": "Ada"}', schema=SCHEMA, partial_credit=0.5).score == 0.5


def test_json_invalid_schema_is_an_error_not_a_zero() -> None:
    result = json_format(None, "{}", schema={"type": "no-such-type"})
    assert result.score is None
    assert result.error is not None
    assert "invalid schema" in result.error


def test_json_deep_nesting_is_zero_not_a_crash() -> None:
    assert json_format(None, "[" * 500_000 + "]" * 500_000).score in (0.0, 1.0)


def test_regex_full_and_partial() -> None:
    assert regex_match(None, "  Answer: 42 ", pattern=r"Answer: \d+").score == 1.0
    assert regex_match(None, "So. Answer: 42", pattern=r"Answer: \d+").score == 0.0
    assert regex_match(None, "So. Answer: 42", pattern=r"Answer: \d+", mode="partial").score == 1.0
    assert regex_match(None, "answer: 42", pattern=r"Answer: \d+", flags="i").score == 1.0


def test_regex_bad_pattern_and_flags_are_errors() -> None:
    assert regex_match(None, "x", pattern="(").error is not None
    assert regex_match(None, "x", pattern="x", flags="q").error is not None


def test_regex_catastrophic_pattern_times_out() -> None:
    result = regex_match(None, "a" * 40, pattern=r"(a|a)+b", timeout=0.2)
    assert result.score is None
    assert "exceeded" in (result.error or "")
