"""Evaluation during training (the config's `eval` block), with the same code as `rewardkit eval`.

The trainer's own generation backend answers (after its weights are brought up to date), so nothing is
loaded twice; each evaluation is a run folder under `<run>/eval/step-N/`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rewardkit.evaluation.config import EvalConfig, EvalEnvironment, TrainEvalConfig, parse_eval_config

if TYPE_CHECKING:
    from rewardkit.trainer.loop import GRPOTrainer
    from rewardkit.trainer.tracking import Tracker


def evaluate_during_training(trainer: GRPOTrainer, tracker: Tracker, since: int) -> dict[str, float]:
    """Evaluate when a multiple of `eval.every` lies in (since, step], or at the last step; log and return
    the metrics (empty when it is not time, and on processes other than the main one)."""
    cfg = trainer.config.eval
    step, last = trainer.step, trainer.config.optim.max_steps
    if cfg is None or not (step // cfg.every > since // cfg.every or step >= last):
        return {}
    if not trainer.accelerator.is_main_process:
        return {}
    from rewardkit.evaluation.local import LocalChat
    from rewardkit.evaluation.run import evaluate

    config = eval_config(trainer, cfg)
    trainer._sync_weights()  # the engine generates with the weights of this step
    sampling = config.sampling
    spec = dataclasses.replace(
        trainer._sampling_spec(),  # the training stop set and stop strings
        max_new_tokens=sampling.max_tokens,
        temperature=sampling.temperature or 1.0,
        greedy=sampling.temperature == 0,
    )
    chat = LocalChat(
        trainer.backend,
        trainer.tokenizer,
        spec,
        seed=sampling.seed,
        batch_size=config.local.batch_size,
        max_prompt_length=trainer.config.generation.max_prompt_length,
        chat_template_kwargs=config.chat_template_kwargs,
        owns_backend=False,
        tool_format=config.episodes.tool_format,
    )
    metadata = evaluate(config, trainer.run_dir / "eval" / f"step-{step:06d}", chat=chat)
    metrics = logged_metrics(metadata["metrics"])
    tracker.log(step, metrics)
    return metrics


def eval_config(trainer: GRPOTrainer, cfg: TrainEvalConfig) -> EvalConfig:
    from rewardkit.trainer.episodes.step import has_episodes

    train = trainer.config
    environments = cfg.environments or [
        EvalEnvironment(name=env.name, config=env.config, rubric=env.rubric, score_timeout=env.score_timeout)
        for env in train.environments
    ]
    generation, episodes = train.generation, train.episodes
    return parse_eval_config(
        {
            "model": train.model.path,
            "backend": generation.backend,
            "environments": [env.model_dump() for env in environments],
            "split": cfg.split,
            "num_prompts": cfg.num_prompts,
            "rollouts": cfg.rollouts,
            "sampling": {
                "temperature": generation.temperature if cfg.temperature is None else cfg.temperature,
                "top_p": generation.top_p,
                "top_k": generation.top_k,
                "max_tokens": cfg.max_tokens or generation.max_new_tokens,
                "seed": train.seed,
            },
            # Episodes are played as in training (same turn cap, budget, tool format, template variables).
            "episodes": {
                "max_turns": episodes.max_turns,
                "max_tokens": episodes.max_tokens,
                "tool_format": episodes.tool_format,
            },
            "chat_template_kwargs": episodes.chat_template_kwargs if has_episodes(trainer.slots) else {},
        }
    )


def logged_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """`eval/<env>/pass@k`, `maj@k`, `max@k`, `mean`, `error_rate` and the same for `eval/overall/...`."""
    out: dict[str, float] = {}
    for key, m in [*metrics["environments"].items(), ("overall", metrics["overall"])]:
        for name, label in (("pass_at_k", "pass@"), ("maj_at_k", "maj@"), ("max_at_k", "max@")):
            for k, value in (m.get(name) or {}).items():
                out[f"eval/{key}/{label}{k}"] = float(value)
        for name in ("mean", "error_rate", "truncation_rate"):
            if m.get(name) is not None:
                out[f"eval/{key}/{name}"] = float(m[name])
    return out
