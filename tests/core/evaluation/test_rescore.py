"""`rewardkit rescore` after a verifier change: verdicts change, nothing is generated, a new run is
written."""

from __future__ import annotations

import pytest

from rewardkit.cli.main import main
from rewardkit.errors import ConfigError
from rewardkit.evaluation.rescore import env_overrides, rescore
from rewardkit.evaluation.rundir import latest_records, read_metadata

REPLIES = {
    ("toy.answer", "test-0", 0): "0",
    ("toy.answer", "test-0", 1): "it is 0",  # right, but not in the strict format
    ("toy.answer", "test-1", 0): "the answer: 1",  # right, but not in the strict format
    ("toy.answer", "test-1", 1): "7",
    ("toy.answer", "test-2", 0): "2",
    ("toy.answer", "test-2", 1): "2",
}


def test_rescore_after_a_config_change_of_the_verifier(make_run, tmp_path, capsys):
    run = make_run(REPLIES, rollouts=2)
    assert read_metadata(run)["metrics"]["environments"]["toy.answer"]["pass@1"] == pytest.approx(0.5)
    out = tmp_path / "lenient"
    with pytest.raises(SystemExit) as exit_info:
        main(["rescore", str(run), "--set", "strict=false", "-o", str(out), "--no-progress"])
    assert exit_info.value.code in (0, None)
    assert "toy.answer: 2 of 6 verdicts changed (fail -> pass: 2)" in capsys.readouterr().out

    metadata = read_metadata(out)
    assert metadata["kind"] == "rescore" and metadata["source"] == str(run)
    assert metadata["config"]["environments"][0]["config"] == {"strict": False}
    assert metadata["changes"]["toy.answer"] == {"rollouts": 6, "changed": 2, "fail -> pass": 2}
    assert metadata["metrics"]["environments"]["toy.answer"]["pass@1"] == pytest.approx(5 / 6)
    before, after = latest_records(run), latest_records(out)
    assert set(before) == set(after)
    for key, record in after.items():
        assert record.trajectory == before[key].trajectory  # the same completions, scored again
        assert record.timing["generate"] == before[key].timing["generate"]
    assert read_metadata(run)["metrics"]["environments"]["toy.answer"]["pass@1"] == pytest.approx(0.5)


def test_rescore_with_a_changed_verifier_code(make_run, tmp_path, monkeypatch):
    run = make_run(REPLIES, rollouts=2)
    import eval_toys

    async def lenient(self, sample, completion):
        return float(completion.strip().endswith(sample.answer))

    monkeypatch.setattr(eval_toys.Answer, "score", lenient)  # the "installed verifier" now reads endings
    metadata = rescore(run, tmp_path / "new")
    assert metadata["changes"]["toy.answer"]["changed"] == 2
    assert metadata["metrics"]["environments"]["toy.answer"]["pass_at_k"]["2"] == pytest.approx(1.0)


def test_rescore_refuses_stateful_scoring_unless_forced(make_run, tmp_path):
    replies = {(env, sid, r): reply for (_, sid, r), reply in REPLIES.items() for env in ["toy.stateful"]}
    run = make_run(replies, rollouts=2, env="toy.stateful")
    with pytest.raises(ConfigError, match=r"toy\.stateful: declares stateful_scoring"):
        rescore(run, tmp_path / "refused")
    assert not (tmp_path / "refused" / "rollouts.jsonl").exists()
    forced = rescore(run, tmp_path / "forced", force=True)
    assert forced["changes"]["toy.stateful"]["changed"] == 0


def test_rescore_writes_a_new_run_only(make_run):
    run = make_run(REPLIES, rollouts=2)
    with pytest.raises(ConfigError, match="choose a folder other than its source"):
        rescore(run, run)


def test_set_names_the_environment_when_a_run_has_several():
    assert env_overrides(["a=1"], ["toy.answer"]) == {"toy.answer": ["a=1"]}
    assert env_overrides(["toy.graded:a=1", "toy.answer:b=2"], ["toy.answer", "toy.graded"]) == {
        "toy.graded": ["a=1"],
        "toy.answer": ["b=2"],
    }
    with pytest.raises(ConfigError, match="write --set ENV:a=1"):
        env_overrides(["a=1"], ["toy.answer", "toy.graded"])
    with pytest.raises(ConfigError, match="no environment 'nope'"):
        env_overrides(["nope:a=1"], ["toy.answer"])
    assert env_overrides(["url=http://x:1"], ["toy.answer"]) == {"toy.answer": ["url=http://x:1"]}
