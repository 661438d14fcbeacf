"""One optimizer step at lr 1e-6 in a fresh process (accelerate's precision is per process); prints what
tests/trainer/test_precision.py compares: the share of weights it moved and the dtypes of the training
forward."""

import json
import sys

import torch
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer.config import parse_config
from rewardkit.trainer.loop import GRPOTrainer


def one_step(run_dir: str, mixed_precision: str) -> dict:
    config = tiny_config(run_dir, steps=1, model={"path": "tiny://qwen2?hidden=64&layers=2"})
    config["model"]["mixed_precision"] = mixed_precision
    config["optim"]["lr"] = 1e-6
    trainer = GRPOTrainer(parse_config(config), host=toy_host())
    policy = trainer._unwrapped()
    before = {name: p.detach().clone() for name, p in policy.named_parameters()}
    batch = trainer.rollout().batch
    dtypes: set[str] = set()
    layer = policy.model.layers[0].mlp.down_proj
    layer.register_forward_hook(lambda module, args, out: dtypes.add(str(out.dtype)))
    trainer.optimize(batch, first=True)
    trainer.close()
    changed = sum(int((p.detach() != before[name]).sum()) for name, p in policy.named_parameters())
    return {
        "moved": changed / sum(p.numel() for p in before.values()),
        "weights": str(next(policy.parameters()).dtype),
        "compute": sorted(dtypes),
        "signal": bool((batch.advantages != 0).any()),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    print("RESULT " + json.dumps(one_step(sys.argv[1], sys.argv[2])))
