"""`rewardkit eval` with the model in this process: transformers on a tiny local model."""

from __future__ import annotations

import pytest
from eval_helpers import TINY

from rewardkit.cli.main import main
from rewardkit.evaluation.rundir import latest_records, read_metadata


def test_transformers_backend_on_a_tiny_model(toys, tiny_cache, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["eval", "toy.answer", "--model", TINY, "--backend", "transformers"]
    args += ["-n", "2", "-r", "3", "--max-tokens", "6", "--batch-size", "4", "-o", str(out), "--no-progress"]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    records = latest_records(out)
    assert len(records) == 6
    for record in records.values():
        assert record.result.error is None
        assert 1 <= record.tokens["completion"] <= 6
        assert record.tokens["prompt"] > 2  # the chat template's tokens
        assert record.trajectory.stop_reason in ("done", "length")
        if record.trajectory.stop_reason == "length":
            assert record.tokens["completion"] == 6
    metadata = read_metadata(out)
    assert metadata["config"]["backend"] == "transformers"
    m = metadata["metrics"]["environments"]["toy.answer"]
    assert m["rollouts"] == 6 and m["tokens"]["completion"] == sum(
        r.tokens["completion"] for r in records.values()
    )
