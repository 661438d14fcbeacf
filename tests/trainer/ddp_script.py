"""One rank of a two-process DDP run (started by `accelerate launch`), or the same run on one process
(`--single`), or a run on episodes (`--episodes MODEL_DIR`); writes what the tests compare."""

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from rk_trainer_toys import FixedRollouts, tiny_config, toy_host

from rewardkit.trainer import configure_process
from rewardkit.trainer.config import parse_config
from rewardkit.trainer.loop import GRPOTrainer


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.numpy().tobytes())
    return digest.hexdigest()


def train_and_report(trainer: GRPOTrainer) -> dict[str, Any]:
    """Train, recording each rollout's prompts, scores, advantages and turns."""
    initial = weights_digest(trainer._unwrapped())
    seen: dict[str, list] = {"prompts": [], "scores": [], "advantages": [], "turns_mean": []}
    rollout = trainer.rollout

    def recording_rollout():
        result = rollout()
        seen["prompts"].extend(p.sample.id for p in result.prompts)
        seen["scores"].append([r.score for r in result.results])
        seen["advantages"].append([float(a) for a in result.batch.advantages])
        seen["turns_mean"].append(float(result.metrics.get("episodes/turns_mean", 1.0)))
        return result

    trainer.rollout = recording_rollout  # type: ignore[method-assign]
    result = trainer.train()
    return {
        "initial_weights": initial,
        "rank": result.process_index,
        "processes": result.num_processes,
        "steps": result.step,
        "weights": weights_digest(trainer._unwrapped()),
        "state": {k: v.flatten()[:64].tolist() for k, v in sorted(trainer._unwrapped().state_dict().items())},
        "history": result.history,
        **seen,
    }


def fixed_rollouts(out_dir: Path, name: str) -> dict[str, Any]:
    config = tiny_config(
        out_dir / name,
        steps=3,
        grpo={"prompts_per_step": 4, "num_generations": 4, "beta": 0.05, "tis_cap": None},
        optim={"micro_batch_size": 3},
        logging={"rollouts": True},
        checkpoint={"save_final": True},
    )
    parsed = parse_config(config)
    configure_process(parsed)
    trainer = GRPOTrainer(parsed, host=toy_host())
    trainer.backend = FixedRollouts(config["generation"]["max_new_tokens"])
    return train_and_report(trainer)


def episodes(out_dir: Path, model_dir: str) -> dict[str, Any]:
    from episode_toys import Feedback

    config = tiny_config(
        out_dir / "episodes",
        steps=2,
        model={"path": model_dir},
        environments=[{"name": "toy.feedback"}],
        grpo={"prompts_per_step": 4, "num_generations": 4, "scale_rewards": "batch"},
        optim={"micro_batch_size": 4},
    )
    parsed = parse_config(config)
    configure_process(parsed)
    trainer = GRPOTrainer(parsed, environments={"toy.feedback": Feedback(size=8)})
    return train_and_report(trainer)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    if "--episodes" in sys.argv:
        name, report = "episodes", episodes(out, sys.argv[sys.argv.index("--episodes") + 1])
    else:
        name = "single" if "--single" in sys.argv else "run"
        report = fixed_rollouts(out, name)
    (out / f"{name}{report['rank']}.json").write_text(json.dumps(report))
