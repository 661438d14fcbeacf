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
config = parse_config(tiny_config(out_dir / "run", steps=3, optim={"micro_batch_size": 4}))
trainer = GRPOTrainer(config, host=toy_host())
initial = weights_digest(trainer._unwrapped())
seen: list[str] = []
rollout = trainer.rollout


def recording_rollout():
    result = rollout()
    seen.extend(p.sample.id for p in result.prompts)
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
}
(out_dir / f"rank{result.process_index}.json").write_text(json.dumps(report))
