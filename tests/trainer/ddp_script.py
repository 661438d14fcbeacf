"""One rank of a two-process DDP run (started by `accelerate launch`); writes what the test compares."""

import hashlib
import json
import sys
from pathlib import Path

from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer.config import parse_config
from rewardkit.trainer.loop import GRPOTrainer


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + tensor.numpy().tobytes())
    return digest.hexdigest()


out_dir = Path(sys.argv[1])
episode_model = sys.argv[2] if len(sys.argv) > 2 else None  # a model directory: train on episodes
if episode_model is None:
    config = parse_config(tiny_config(out_dir / "run", steps=3, optim={"micro_batch_size": 4}))
    trainer = GRPOTrainer(config, host=toy_host())
else:
    from episode_toys import Feedback

    config = parse_config(
        tiny_config(
            out_dir / "run",
            steps=2,
            model={"path": episode_model},
            environments=[{"name": "toy.feedback"}],
            grpo={"prompts_per_step": 4, "num_generations": 4, "scale_rewards": "batch"},
            optim={"micro_batch_size": 4},
        )
    )
    trainer = GRPOTrainer(config, environments={"toy.feedback": Feedback(size=8)})
initial = weights_digest(trainer._unwrapped())
seen: list[str] = []
scores: list[list[float | None]] = []
advantages: list[list[float]] = []
turns: list[float] = []
rollout = trainer.rollout


def recording_rollout():
    result = rollout()
    seen.extend(p.sample.id for p in result.prompts)
    scores.append([r.score for r in result.results])
    advantages.append([float(a) for a in result.batch.advantages])
    turns.append(float(result.metrics.get("episodes/turns_mean", 1.0)))
    return result


trainer.rollout = recording_rollout  # type: ignore[method-assign]
result = trainer.train()
report = {
    "initial_weights": initial,
    "rank": result.process_index,
    "processes": result.num_processes,
    "steps": result.step,
    "weights": weights_digest(trainer._unwrapped()),
    "prompts": seen,
    "scores": scores,
    "advantages": advantages,
    "turns_mean": turns,
}
(out_dir / f"rank{result.process_index}.json").write_text(json.dumps(report))
