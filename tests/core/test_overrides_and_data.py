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


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_a_single_file_is_one_split_and_asking_for_another_says_how_to_add_it(tmp_path):
    source = DataSource(path=write_jsonl(tmp_path / "d.jsonl", [{"q": 1}]))
    assert list(iter_records(source, split="train")) == [{"q": 1}]
    with pytest.raises(
        ConfigError, match=r"is the 'train' split and the 'test' split was asked for"
    ) as error:
        list(iter_records(source, split="test"))
    assert "data.path: {train: " in str(error.value) and "data.split=test" in str(error.value)
    assert list(iter_records(source.model_copy(update={"split": "test"}), split="test")) == [{"q": 1}]


def test_a_split_mapping_gives_each_split_its_own_rows(tmp_path):
    files = {
        "train": write_jsonl(tmp_path / "a.jsonl", [{"q": 1}]),
        "test": write_jsonl(tmp_path / "b.jsonl", [{"q": 2}]),
    }
    source = DataSource(path=files)
    assert list(iter_records(source, split="train")) == [{"q": 1}]
    assert list(iter_records(source, split="test")) == [{"q": 2}]
    with pytest.raises(
        ConfigError, match=r"no file for the 'validation' split .* data\.path\.validation=FILE"
    ):
        list(iter_records(source, split="validation"))


def test_math_train_and_test_from_local_files_are_different_rows(tmp_path):
    import rewardkit as rk

    train = write_jsonl(tmp_path / "train.jsonl", [{"question": "1+1", "answer": "2"}])
    test = write_jsonl(tmp_path / "test.jsonl", [{"question": "2+2", "answer": "4"}])
    env = rk.load_environment("math", data={"path": {"train": train, "test": test}})
    assert [s.answer for s in env.dataset("train")] == ["2"]
    assert [s.answer for s in env.dataset("test")] == ["4"]
    single = rk.load_environment("math", data={"path": train})
    with pytest.raises(ConfigError, match="the 'test' split was asked for"):
        list(single.dataset("test"))


def test_a_record_without_an_expected_column_names_the_mapping_fix(tmp_path):
    import rewardkit as rk

    path = write_jsonl(tmp_path / "d.jsonl", [{"problem": "1+1", "answer": "2"}])
    env = rk.load_environment("math", data={"path": path})
    with pytest.raises(ConfigError) as error:
        list(env.dataset("train"))
    assert str(error.value) == (
        f"data: record 0 of {path} has no 'question' column (it has: answer, problem); "
        "map a column to it with data.columns.question=COLUMN"
    )
