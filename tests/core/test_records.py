"""The rollout record: JSON round trips, appends that survive a killed writer, and the one-turn case."""

from __future__ import annotations

import json
import math

import pytest

from rewardkit import RecordWriter, RewardResult, RolloutRecord, Sample, Trajectory, read_records, user


def _record(rollout: int = 0, score: float | None = 1.0) -> RolloutRecord:
    sample = Sample(id="s1", prompt=[user("What is 2+2?")], answer="4", info={"level": 1})
    trajectory = Trajectory(
        [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "py", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "4", "tool_call_id": "c0", "name": "py"},
            {"role": "assistant", "content": "<answer>4</answer>"},
        ],
        stop_reason="done",
        turn_rewards=(None, 0.5),
    )
    result = RewardResult(score=score, components={"acc": 1.0, "nan": math.nan}, info={"parsed": {"x", "y"}})
    return RolloutRecord(
        "math", sample, trajectory, result, rollout, {"prompt": 7, "completion": 9}, {"score": 0.01}
    )


def test_record_round_trips_through_json():
    record = _record()
    again = RolloutRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.key == ("math", "s1", 0)
    assert again.sample == record.sample
    assert again.trajectory.messages == record.trajectory.messages
    assert again.trajectory.turn_rewards == (None, 0.5)
    assert again.completion == "<answer>4</answer>"
    assert again.trajectory.turns == 2
    assert again.result.score == 1.0
    assert again.result.components == {"acc": 1.0}  # a non-finite component is written as null
    assert sorted(again.result.info["parsed"]) == ["x", "y"]  # sets become lists
    assert again.tokens == {"prompt": 7, "completion": 9}


def test_single_turn_is_a_one_message_trajectory():
    trajectory = Trajectory.single("42", stop_reason="length")
    assert trajectory.messages == [{"role": "assistant", "content": "42"}]
    assert trajectory.completion == "42"
    assert Trajectory.from_dict(trajectory.to_dict()) == trajectory


def test_unknown_stop_reason_is_rejected():
    with pytest.raises(ValueError, match="unknown stop_reason 'bored'"):
        Trajectory.from_dict({"messages": [], "stop_reason": "bored"})


def test_writer_appends_and_a_torn_tail_is_dropped(tmp_path):
    path = tmp_path / "rollouts.jsonl"
    with RecordWriter(path) as writer:
        writer.write(_record(0))
        writer.write_many([_record(1), _record(2, score=None)])
    with path.open("a") as handle:  # a writer killed mid-line
        handle.write('{"env": "math", "sample": {"id"')
    assert [r.rollout for r in read_records(path)] == [0, 1, 2]
    with RecordWriter(path) as writer:  # appending again cuts the torn line first
        writer.write(_record(3))
    assert [r.rollout for r in read_records(path)] == [0, 1, 2, 3]
    assert path.read_text().count("\n") == 4


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "rollouts.jsonl"
    path.write_text(json.dumps(_record().to_dict()) + "\n" + '{"env": "x"}\n')
    with pytest.raises(ValueError, match=r"rollouts.jsonl:2: not a rollout record"):
        list(read_records(path))
