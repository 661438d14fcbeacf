"""`rewardkit export`: selection rules, the pass-rate band, dedup, the cap per prompt, and the formats."""

from __future__ import annotations

import json

import pytest

from rewardkit.cli.main import main
from rewardkit.errors import ConfigError
from rewardkit.evaluation.export import ExportOptions, export, select_rows
from rewardkit.evaluation.rundir import latest_records, read_metadata

# Prompt 0: 3 of 4 pass (two identical passes, one long pass); prompt 1: 1 of 4 passes, one truncated
# pass; prompt 2: none passes.
REPLIES = {
    ("toy.answer", "test-0", 0): "0",
    ("toy.answer", "test-0", 1): " 0 ",
    ("toy.answer", "test-0", 2): "9",
    ("toy.answer", "test-0", 3): "0 ",
    ("toy.answer", "test-1", 0): "5",
    ("toy.answer", "test-1", 1): ("1", "length"),
    ("toy.answer", "test-1", 2): "1",
    ("toy.answer", "test-1", 3): "6",
    ("toy.answer", "test-2", 0): "3",
    ("toy.answer", "test-2", 1): "4",
    ("toy.answer", "test-2", 2): "5",
    ("toy.answer", "test-2", 3): "6",
}


@pytest.fixture
def run(make_run):
    return make_run(REPLIES)


def _select(run, **options):
    rows, stats = select_rows(latest_records(run).values(), read_metadata(run), ExportOptions(**options))
    return [(row["sample_id"], row["rollout"]) for row in rows], stats


def test_correct_keeps_passing_untruncated_rollouts_once(run):
    rows, stats = _select(run)
    # test-0: rollouts 0, 1 and 3 pass but read the same up to whitespace: one row; test-1: the truncated
    # pass (rollout 1) is left out.
    assert rows == [("test-0", 0), ("test-1", 2)]
    assert stats.duplicates == 2 and stats.unusable == 1 and stats.prompts == 3
    assert _select(run, dedup=False)[0] == [("test-0", 0), ("test-0", 1), ("test-0", 3), ("test-1", 2)]
    assert _select(run, keep_truncated=True)[0] == [("test-0", 0), ("test-1", 1)]  # dedup: "1" twice


def test_best_shortest_all_and_the_cap(run):
    assert _select(run, select="best")[0] == [("test-0", 0), ("test-1", 2), ("test-2", 0)]
    assert _select(run, select="shortest")[0] == [("test-0", 0), ("test-1", 2)]
    rows, _ = _select(run, select="all", dedup=False)
    assert len(rows) == 11  # every scored rollout but the truncated one
    assert _select(run, select="all", max_per_prompt=2)[0] == [
        ("test-0", 0),
        ("test-0", 2),
        ("test-1", 0),
        ("test-1", 2),
        ("test-2", 0),
        ("test-2", 1),
    ]
    assert _select(run, select="all", min_score=1.0)[0] == [("test-0", 0), ("test-1", 2)]


def test_pass_rate_band(run):
    # Pass rates over scored rollouts (truncated ones count): test-0 3/4, test-1 2/4, test-2 0/4.
    assert _select(run, select="all", pass_band=(0.1, 0.9), max_per_prompt=1)[0] == [
        ("test-0", 0),
        ("test-1", 0),
    ]
    assert _select(run, select="all", pass_band=(0.5, 0.5), max_per_prompt=1)[0] == [("test-1", 0)]
    assert _select(run, select="all", pass_band=(0.0, 0.0), max_per_prompt=1)[0] == [("test-2", 0)]


def test_rows_are_chat_messages(run, tmp_path):
    stats = export(run, tmp_path / "sft.jsonl", ExportOptions())
    lines = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert stats.rows == len(lines) == 2
    assert lines[0]["messages"] == [
        {"role": "user", "content": "question 0"},
        {"role": "assistant", "content": "0"},
    ]
    assert lines[0]["env"] == "toy.answer" and lines[0]["score"] == 1.0 and lines[0]["pass_rate"] == 0.75


def test_prompts_only_for_rl_data(run, tmp_path):
    export(run, tmp_path / "rl.jsonl", ExportOptions(prompts_only=True, pass_band=(0.1, 0.9)))
    rows = [json.loads(line) for line in (tmp_path / "rl.jsonl").read_text().splitlines()]
    assert [(r["id"], r["answer"], r["pass_rate"]) for r in rows] == [
        ("test-0", "0", 0.75),
        ("test-1", "1", 0.5),
    ]
    assert rows[0]["prompt"] == [{"role": "user", "content": "question 0"}]


def test_parquet_and_datasets_folder(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    export(run, tmp_path / "sft.parquet", ExportOptions())
    from_parquet = datasets.Dataset.from_parquet(str(tmp_path / "sft.parquet"))
    export(run, tmp_path / "sft-hf", ExportOptions())
    from_folder = datasets.load_from_disk(str(tmp_path / "sft-hf"))
    for dataset in (from_parquet, from_folder):
        assert dataset.num_rows == 2
        assert dataset[1]["messages"][1] == {"role": "assistant", "content": "1"}


def test_continuous_rewards_need_a_threshold(make_run):
    replies = {("toy.graded", f"g-{i}", r): "abc" for i in range(2) for r in range(2)}
    run = make_run(replies, rollouts=2, env="toy.graded")
    with pytest.raises(ConfigError, match=r"toy\.graded has a continuous reward"):
        _select(run)
    assert _select(run, threshold=0.7)[0] == [("g-0", 0), ("g-1", 0)]
    assert _select(run, select="best")[0] == [("g-0", 0), ("g-1", 0)]


def test_cli(run, tmp_path, capsys):
    out = tmp_path / "sft.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "export",
                str(run),
                "-o",
                str(out),
                "--select",
                "all",
                "--pass-band",
                "0.1:0.9",
                "--max-per-prompt",
                "1",
            ]
        )
    assert exit_info.value.code in (0, None)
    assert "wrote 2 rows" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(run), "-o", str(out), "--pass-band", "0.9:0.1"])
    assert exit_info.value.code == 2
    assert "--pass-band 0.9:0.1: expected LOW:HIGH" in capsys.readouterr().err


def test_the_order_of_finished_rollouts_does_not_change_the_export(run):
    records = list(latest_records(run).values())
    options = ExportOptions(select="all")
    forward, _ = select_rows(records, read_metadata(run), options)
    backward, _ = select_rows(records[::-1], read_metadata(run), options)
    assert forward == backward
