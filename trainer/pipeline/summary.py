"""The held-out table of a pipeline: each model stage's final model, evaluated with `rewardkit eval`'s code.

Per stage: `pass@1` (sampled at the training temperature) and `pass@k` from `rollouts` replies per prompt,
`greedy_pass@1`, and `format_rate` (the mean of the format reward's component). The evaluations are eval
run folders under the stage's `summary/` folder, so `rewardkit view` shows every reply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardkit.evaluation import rundir
from rewardkit.evaluation.config import parse_eval_config
from rewardkit.host import PluginHost
from rewardkit.trainer.pipeline.config import Pipeline, SummaryConfig


def summarize(
    pipeline: Pipeline, model: str, dtype: str, folder: Path, host: PluginHost | None
) -> dict[str, Any]:
    """One row of the table for the model in `model` (a local folder)."""
    config = pipeline.config.summary
    assert config is not None
    k, seed = config.rollouts, pipeline.config.seed
    sampled = _evaluate(
        config, model, dtype, folder / "sampled", k, pipeline.summary_temperature(), seed, host
    )
    overall = sampled["metrics"]["overall"]
    row: dict[str, Any] = {
        "pass@1": overall.get("pass@1"),
        f"pass@{k}": (overall.get("pass_at_k") or {}).get(str(k)),
    }
    if config.greedy:
        greedy = _evaluate(config, model, dtype, folder / "greedy", 1, 0.0, seed, host)
        row["greedy_pass@1"] = greedy["metrics"]["overall"].get("pass@1")
    if config.format_reward is not None:
        row["format_rate"] = component_mean(folder / "sampled", config.format_reward)
    row["prompts"] = overall.get("prompts")
    return row


def _evaluate(
    config: SummaryConfig,
    model: str,
    dtype: str,
    output: Path,
    rollouts: int,
    temperature: float,
    seed: int,
    host: PluginHost | None,
) -> dict[str, Any]:
    from rewardkit.evaluation.run import evaluate

    eval_config = parse_eval_config(
        {
            "model": model,
            "backend": "transformers",
            "environments": [env.model_dump() for env in config.environments],
            "split": config.split,
            "num_prompts": config.num_prompts,
            "rollouts": rollouts,
            # The pipeline's seed: runs with different seeds draw different samples of the same problems.
            "sampling": {"temperature": temperature, "max_tokens": config.max_tokens, "seed": seed},
            "local": {"batch_size": config.batch_size, "dtype": dtype},
        }
    )
    # A run killed during the summary completes its evaluation instead of starting it again.
    resume = rundir.metadata_path(output).exists()
    return evaluate(eval_config, output, resume=resume, host=host)


def component_mean(run: Path, name: str) -> float | None:
    """The mean of a rubric component over the run's scored rollouts (None when it never appears)."""
    values = [
        float(record.result.components[name])
        for record in rundir.latest_records(run).values()
        if name in record.result.components
    ]
    return sum(values) / len(values) if values else None
