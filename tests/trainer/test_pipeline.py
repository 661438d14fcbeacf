"""Pipelines of stages: sft -> grpo killed with SIGKILL in the middle of GRPO and resumed at that stage;
sft -> rejection_sample -> distill with the held-out summary; config errors name the stage's field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rk_trainer_toys import run_killable, toy_host

from rewardkit.errors import ConfigError
from rewardkit.trainer.checkpoint import find_checkpoint, list_checkpoints
from rewardkit.trainer.pipeline import parse_pipeline, train_pipeline

SCRIPT = Path(__file__).with_name("pipeline_script.py")
PER_STEP = 16  # toy.killer's scoring calls per GRPO step


def _run(run_dir, *extra, kill_at=0):
    return run_killable(SCRIPT, run_dir, *extra, kill_at=kill_at, timeout=600)


def _state(run_dir: Path) -> dict[str, str]:
    return {s["name"]: s["status"] for s in json.loads((run_dir / "pipeline.json").read_text())["stages"]}


def _steps(folder: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.timeout(900)  # three processes train on a machine shared with the rest of the suite
@pytest.mark.usefixtures("tiny_dir")
def test_sft_then_grpo_killed_in_grpo_resumes_at_grpo(tmp_path):
    run = tmp_path / "run"
    cold, rl = run / "stages" / "01-cold", run / "stages" / "02-rl"
    crashed = _run(run, kill_at=2 * PER_STEP + 5)  # while scoring GRPO's step 3
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert _state(run) == {"cold": "complete", "rl": "running"}
    assert [c.name for c in list_checkpoints(rl)] == ["checkpoint-2"]
    cold_metrics = (cold / "metrics.jsonl").read_bytes()
    assert _steps(cold) == list(range(1, 7))

    resumed = _run(run, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _state(run) == {"cold": "complete", "rl": "complete"}
    assert (cold / "metrics.jsonl").read_bytes() == cold_metrics  # the finished stage did not run again
    assert _steps(rl) == [1, 2, 3, 4]  # steps 3 and 4 once each, after the resume
    rollout_steps = [json.loads(line)["step"] for line in (rl / "rollouts.jsonl").read_text().splitlines()]
    assert rollout_steps == sorted(rollout_steps) and set(rollout_steps) == {1, 2, 3, 4}
    # GRPO started from the SFT stage's final model, and the pipeline's final model is GRPO's.
    grpo_config = yaml.safe_load((find_checkpoint(rl) / "run_config.yaml").read_text())
    assert grpo_config["model"]["path"] == str(cold / "checkpoint-6")
    state = json.loads((run / "pipeline.json").read_text())["stages"]
    assert state[1]["model"] == str(rl / "checkpoint-4")


def _three_stages(run_dir: Path) -> dict:
    quiet = {"progress": False, "tensorboard": False}
    say = {"name": "toy.say"}
    return {
        "name": "r1-mini",
        "output_dir": str(run_dir),
        "threads": 1,
        "model": {"path": "tiny://qwen2?hidden=64&layers=2"},
        "summary": {"environments": [say], "num_prompts": 16, "rollouts": 2, "max_tokens": 12},
        "stages": [
            {
                "name": "teacher",
                "kind": "sft",
                "data": {"environment": say, "eval_rows": 16},
                "batch_size": 16,
                "max_length": 64,
                "optim": {"lr": 3e-3, "max_steps": 120},
                "eval": {"every": 10, "rollouts": 2, "max_new_tokens": 12, "temperature": 0, "stop_at": 0.9},
                "logging": quiet,
            },
            {
                "name": "sample",
                "kind": "rejection_sample",
                "environments": [say],
                "split": "train",
                "num_prompts": 32,
                "rollouts": 2,
                "sampling": {"temperature": 1.0, "max_tokens": 12},
                "export": {"select": "correct", "max_per_prompt": 1},
            },
            {
                "name": "student",
                "kind": "distill",
                "model": {"path": "tiny://qwen2?hidden=64&layers=1"},
                "data": {"from_stage": "sample"},
                "batch_size": 8,
                "max_length": 64,
                "optim": {"lr": 3e-3, "max_steps": 40},
                "logging": quiet,
            },
        ],
    }


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("tiny_dir")
def test_sft_rejection_sample_distill_with_summary(tmp_path):
    run = tmp_path / "run"
    result = train_pipeline(_three_stages(run), host=toy_host())
    teacher, student = result.summary["teacher"], result.summary["student"]
    assert teacher["greedy_pass@1"] >= 0.9 and teacher["pass@2"] >= teacher["pass@1"] > 0.2
    rows = [
        json.loads(line) for line in (run / "stages" / "02-sample" / "data.jsonl").read_text().splitlines()
    ]
    assert 0 < len(rows) <= 32
    for row in rows:  # only replies the environment passed, one per prompt
        number = row["messages"][-2]["content"].removeprefix("Say ").removesuffix(".")
        assert row["messages"][-1] == {"role": "assistant", "content": f"<answer>{number}</answer>"}
    assert student["greedy_pass@1"] >= 0.25  # a 1-layer student learnt the teacher's replies (untrained: 0)
    assert json.loads((run / "summary.json").read_text()) == result.summary
    assert result.model == str(run / "stages" / "03-student" / "checkpoint-40")
    # Resuming a finished pipeline runs nothing and reports the same.
    again = train_pipeline(None, resume=run, host=toy_host())
    assert again.summary == result.summary


@pytest.mark.usefixtures("tiny_dir")
def test_the_summary_samples_with_the_pipelines_seed(tmp_path):
    """Runs with different seeds draw different replies to the same held-out problems."""
    config = _three_stages(tmp_path / "run")
    config["stages"][0]["optim"]["max_steps"] = 2
    config.update(seed=5, stages=config["stages"][:1])
    train_pipeline(config, ["summary.num_prompts=4", "summary.greedy=false"], host=toy_host())
    sampled = tmp_path / "run" / "stages" / "01-teacher" / "summary" / "sampled" / "metadata.json"
    assert json.loads(sampled.read_text())["config"]["sampling"]["seed"] == 5


def test_config_errors_name_the_stage_and_field(tmp_path):
    config = _three_stages(tmp_path / "x")
    config["stages"][2]["optim"]["lr"] = "fast"
    with pytest.raises(ConfigError, match=r"stages\.2\.optim\.lr"):
        parse_pipeline(config)
    config = _three_stages(tmp_path / "x")
    config["stages"][2]["data"]["from_stage"] = "student"
    with pytest.raises(ConfigError, match=r"stages\.2\.data\.from_stage: 'student' is not an earlier"):
        parse_pipeline(config)
    config = _three_stages(tmp_path / "x")
    config["stages"][1]["name"] = "teacher"
    with pytest.raises(ConfigError, match=r"stages\.1\.name: 'teacher' is used by an earlier stage"):
        parse_pipeline(config)


def test_overrides_reach_a_stage_by_name_or_index(tmp_path):
    config = _three_stages(tmp_path / "x")
    pipeline = parse_pipeline(config, ["stages.student.optim.max_steps=7", "stages.0.batch_size=4", "seed=3"])
    assert pipeline.stages[2].body["optim"]["max_steps"] == 7
    assert pipeline.stages[0].body["batch_size"] == 4 and pipeline.config.seed == 3
    with pytest.raises(ConfigError, match=r"override stages\.nope: no stage is named 'nope'"):
        parse_pipeline(config, ["stages.nope.seed=1"])


R1_SHORT = [
    "stages.cold-start.data.limit=80",
    "stages.cold-start.data.eval_rows=8",
    "stages.cold-start.optim.max_steps=4",
    "stages.cold-start.eval.every=4",
    "stages.cold-start.batch_size=16",
    "stages.reasoning-rl.optim.max_steps=2",
    "stages.reasoning-rl.grpo.prompts_per_step=2",
    "stages.reasoning-rl.grpo.num_generations=4",
    "stages.rejection-sample.num_prompts=8",
    "stages.rejection-sample.rollouts=2",
    "stages.rejection-sample.export.select=all",  # a 4-step model is rarely right; the plumbing is tested
    "stages.sft-on-samples.optim.max_steps=2",
    "stages.all-scenarios-rl.optim.max_steps=2",
    "stages.all-scenarios-rl.grpo.prompts_per_step=2",
    "stages.all-scenarios-rl.grpo.num_generations=4",
    "stages.traces.num_prompts=8",
    "stages.traces.rollouts=2",
    "stages.traces.export.select=all",
    "stages.distill.optim.max_steps=2",
    "summary.num_prompts=4",
    "summary.rollouts=2",
]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("tiny_dir")
def test_the_r1_pipeline_config_runs_end_to_end_shortened(tmp_path):
    config = Path(__file__).parents[2] / "configs" / "r1-pipeline.yaml"
    result = train_pipeline(config, [f"output_dir={tmp_path}", *R1_SHORT])
    assert [s.status for s in result.stages] == ["complete"] * 7
    assert set(result.summary) == {
        "cold-start",
        "reasoning-rl",
        "sft-on-samples",
        "all-scenarios-rl",
        "distill",
    }
    assert result.model == str(tmp_path / "stages" / "07-distill" / "checkpoint-2")
    student = yaml.safe_load((Path(result.model) / "run_config.yaml").read_text())
    assert student["model"]["path"] == "tiny://qwen2?hidden=64&layers=2"
    assert student["data"]["path"] == str(tmp_path / "stages" / "06-traces" / "data.jsonl")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_quickstart_shortened_beats_its_cold_start(tmp_path):
    """`make quickstart` with fewer GRPO steps and a smaller held-out table, at a fixed seed."""
    config = Path(__file__).parents[2] / "configs" / "quickstart.yaml"
    overrides = [
        f"output_dir={tmp_path}",
        "stages.grpo.optim.max_steps=60",
        "stages.grpo.logging.samples_every=0",
        "summary.num_prompts=64",
        "summary.rollouts=4",
        "summary.greedy=false",
    ]
    summary = train_pipeline(config, overrides).summary
    assert summary["grpo"]["pass@1"] >= summary["sft"]["pass@1"] + 0.1, summary
    assert summary["grpo"]["format_rate"] >= 0.9
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
