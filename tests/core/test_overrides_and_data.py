"""key=value overrides, config error paths and local dataset loading."""

from __future__ import annotations

import json

import pytest

from rewardkit.data import DataSource, iter_records
from rewardkit.errors import ConfigError
from rewardkit.overrides import apply_overrides


def test_overrides_are_typed_and_nested():
    config = apply_overrides({"a": {"b": 1}}, ["a.c=true", "a.b=2.5", "d=[1, 2]", "e=text", "f="])
    assert config == {"a": {"b": 2.5, "c": True}, "d": [1, 2], "e": "text", "f": ""}


@pytest.mark.parametrize("bad", ["novalue", "=3", "a..b=1"])
def test_malformed_overrides(bad):
    with pytest.raises(ConfigError, match=r"expected key\.sub=value"):
        apply_overrides({}, [bad])


def test_override_through_a_scalar_is_explained():
    with pytest.raises(ConfigError, match="a is 1, not a mapping"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_local_jsonl_with_column_mapping_and_limit(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"q": f"question {i}", "a": i}) + "\n" for i in range(5)))
    records = list(iter_records(DataSource(path=str(path), columns={"problem": "q", "answer": "a"}, limit=3)))
    assert [(r["problem"], r["answer"]) for r in records] == [
        ("question 0", 0),
        ("question 1", 1),
        ("question 2", 2),
    ]


def test_missing_column_lists_available_ones(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"q": 1}\n')
    with pytest.raises(ConfigError, match=r"data.columns.answer: column 'a' is not in .* has: q"):
        list(iter_records(DataSource(path=str(path), columns={"answer": "a"})))


def test_parquet_goes_through_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "d.parquet"
    datasets.Dataset.from_list([{"problem": "1+1", "answer": "2"}]).to_parquet(str(path))
    assert list(iter_records(DataSource(path=str(path)))) == [{"problem": "1+1", "answer": "2"}]


def test_source_needs_exactly_one_location():
    with pytest.raises(ValueError, match="exactly one of `path`"):
        DataSource()
