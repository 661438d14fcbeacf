"""`rewardkit view` of a training run and of a pipeline: a chart per logged curve, the summary table, and
no model text that could become markup."""

from __future__ import annotations

import json
import re

import pytest

from rewardkit.cli.main import main
from rewardkit.evaluation.training_report import render, series


def _write(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row) for row in rows]
    (folder / "metrics.jsonl").write_text("\n".join([*lines, '{"step": 9, "reward/m']) + "\n")  # a cut line


def test_a_grpo_run_gets_a_chart_per_logged_curve(tmp_path):
    rows = [
        {
            "step": s,
            "reward/mean": 0.1 * s,
            "reward/accuracy": 0.05 * s,
            "completion/length_mean": 30 - s,
            "reasoning/reflection_rate": 0.0 if s < 3 else 0.25,
            "kl": 0.001 * s,
            "entropy": 1.0 / s,
        }
        for s in range(1, 5)
    ]
    rows.append({"step": 4, "reward/mean": 0.5})  # a resumed run's rewrite of step 4 wins
    _write(tmp_path / "run", rows)
    assert series(rows, "reward/mean")[-1] == (4.0, 0.5)
    page = render(tmp_path / "run")
    titles = re.findall(r'aria-label="([^"]+)"', page)
    assert titles == [
        "reward",
        "accuracy",
        "completion length (tokens)",
        "reflection rate",
        "KL to the reference",
        "entropy",
    ]
    assert page.count("<polyline") == 6
    assert "reflection rate: 0 → 0.25" in page and "reward: 0.1 → 0.5" in page


def test_a_pipeline_gets_a_row_per_stage_and_its_summary_via_the_cli(tmp_path, capsys):
    run = tmp_path / "pipe"
    _write(
        run / "stages" / "01-sft", [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0, "eval/accuracy": 0.3}]
    )
    _write(run / "stages" / "02-grpo", [{"step": 1, "reward/mean": 0.2}, {"step": 2, "reward/mean": 0.4}])
    summary = {"sft": {"pass@1": 0.3, "pass@8": 0.8}, "<script>": {"pass@1": 0.9, "pass@8": 0.95}}
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(SystemExit) as exit_info:
        main(["view", str(run)])
    assert exit_info.value.code in (0, None)
    assert "report.html" in capsys.readouterr().out
    page = (run / "report.html").read_text()
    assert page.index("<h2>01-sft</h2>") < page.index("<h2>02-grpo</h2>")
    assert re.findall(r'aria-label="([^"]+)"', page) == ["loss", "held-out accuracy", "reward"]
    assert "<td>0.950</td>" in page and "<script>" not in page and "&lt;script&gt;" in page
