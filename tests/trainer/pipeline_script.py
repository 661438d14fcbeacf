"""Runs the two-stage pipeline of test_pipeline in its own process (the test kills it with SIGKILL in the
middle of the second stage, then resumes it)."""

import sys

from rk_trainer_toys import toy_host

from rewardkit.trainer.pipeline import train_pipeline


def sft_then_grpo(run_dir: str) -> dict:
    quiet = {"progress": False, "tensorboard": False}
    return {
        "name": "two-stage",
        "output_dir": run_dir,
        "threads": 1,
        "model": {"path": "tiny://qwen2?hidden=64&layers=2"},
        "stages": [
            {
                "name": "cold",
                "kind": "sft",
                "data": {"environment": {"name": "toy.say"}, "limit": 64},
                "batch_size": 16,
                "max_length": 64,
                "optim": {"lr": 3e-3, "max_steps": 6},
                "logging": quiet,
            },
            {
                "name": "rl",
                "kind": "grpo",
                "environments": [{"name": "toy.killer"}],
                "generation": {"max_new_tokens": 16},
                "grpo": {"prompts_per_step": 4, "num_generations": 4},
                "optim": {"lr": 1e-3, "max_steps": 4},
                "logging": {**quiet, "rollouts": True},
                "checkpoint": {"every": 2, "keep_last": None},
            },
        ],
    }


if __name__ == "__main__":
    run_dir, resume = sys.argv[1], len(sys.argv) > 2
    train_pipeline(
        None if resume else sft_then_grpo(run_dir), resume=run_dir if resume else None, host=toy_host()
    )
