"""Runs a short training in its own process (the test kills it with SIGKILL mid-step, then resumes)."""

import sys

from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer import configure_process, train
from rewardkit.trainer.config import parse_config

run_dir, resume = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
config = parse_config(
    tiny_config(
        run_dir,
        steps=4,
        environments=[{"name": "toy.killer"}],
        checkpoint={"every": 2, "keep_last": None, "save_final": True},
        logging={"rollouts": True},
        optim={"micro_batch_size": 8, "scheduler": "linear"},
    )
)
configure_process(config)  # threads: 1, for a bit-identical resume
train(config, host=toy_host(), resume=resume)
