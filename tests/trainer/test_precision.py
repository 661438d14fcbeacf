"""Mixed precision the way the field does it: float32 master weights, bfloat16 compute under autocast."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rk_trainer_toys import tiny_config

from rewardkit.errors import ConfigError
from rewardkit.trainer.config import parse_config

SCRIPT = Path(__file__).with_name("precision_script.py")


def _one_step(tmp_path, mixed_precision: str) -> dict:
    # A process each: accelerate's precision is process-wide state, fixed by the first Accelerator.
    env = {**os.environ, "PYTHONPATH": str(SCRIPT.parent), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / mixed_precision), mixed_precision],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(next(ln for ln in done.stdout.splitlines() if ln.startswith("RESULT "))[7:])


@pytest.mark.usefixtures("tiny_dir")
def test_bf16_mixed_precision_moves_the_weights_like_float32(tmp_path):
    fp32, bf16 = _one_step(tmp_path, "no"), _one_step(tmp_path, "bf16")
    assert fp32["signal"] and bf16["signal"]  # the rollouts had non-zero advantages
    assert fp32["weights"] == bf16["weights"] == "torch.float32"  # master weights stay float32
    assert fp32["compute"] == ["torch.float32"]
    assert bf16["compute"] == ["torch.bfloat16"]  # the training forward runs under bf16 autocast
    # Rows of the embedding for tokens absent from the rollout get no gradient, so not all weights move;
    # the others all do, in both runs (bfloat16 weights would round most of these steps away).
    assert fp32["moved"] > 0.8
    assert bf16["moved"] == pytest.approx(fp32["moved"], rel=0.01)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_weights_with_adamw_at_a_small_lr_are_refused(tmp_path, dtype):
    config = tiny_config(tmp_path, model={"path": "tiny://qwen2?hidden=64&layers=2", "dtype": dtype})
    config["optim"]["lr"] = 1e-6
    with pytest.raises(
        ConfigError, match=rf"model\.dtype: {dtype} stores the trained weights.*mixed_precision"
    ):
        parse_config(config)
    config["model"]["lora"] = {"r": 4}  # LoRA trains float32 adapters: allowed
    parse_config(config)
