"""Checkpoints: the model in Hugging Face format (loadable by transformers and vLLM) plus trainer state.

Layout: RUN_DIR/checkpoint-STEP/{config.json, model.safetensors, tokenizer files, trainer_state.pt,
run_config.yaml}; with LoRA the model files are the adapter's (adapter_config.json,
adapter_model.safetensors), whose base model is recorded as the run config names it (a hub id, a path as
written, or `tiny://...`), never as the cache folder it was loaded from, so the folder can be copied to
another machine. Under FSDP / DeepSpeed, whose optimizers exist only in pieces, `sharded_state/` also holds
every process's share (accelerate's `save_state`). A checkpoint is written to a temporary folder and renamed,
so a `kill -9` mid-save never leaves a half checkpoint that `--resume` would pick up.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from rewardkit.errors import ConfigError

STATE_FILE = "trainer_state.pt"
CONFIG_FILE = "run_config.yaml"
ADAPTER_CONFIG = "adapter_config.json"
SHARDED_STATE = "sharded_state"
PATTERN = re.compile(r"^checkpoint-(\d+)$")


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def is_sharded(accelerator: Any) -> bool:
    """Whether parameters or optimizer state live in pieces across processes (no one process has them)."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def staging_dir(run_dir: Path, step: int) -> Path:
    return run_dir / f".checkpoint-{step}.tmp"


def prepare_staging(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: Any,
    tokenizer: Any,
    state: dict[str, Any],
    config_yaml: str,
    weights: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Finish the staging folder (made by `prepare_staging`) and rename it into place. `weights` is the
    gathered state dict of a sharded model; otherwise the model's own is saved."""
    target = run_dir / f"checkpoint-{step}"
    tmp = staging_dir(run_dir, step)
    model.save_pretrained(tmp, state_dict=weights)
    tokenizer.save_pretrained(tmp)
    _record_base_model(tmp, yaml.safe_load(config_yaml)["model"]["path"])
    torch.save({**state, "step": step, "rng": rng_state()}, tmp / STATE_FILE)
    (tmp / CONFIG_FILE).write_text(config_yaml, encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _record_base_model(folder: Path, base: str) -> None:
    """peft writes where the base weights were loaded from (for `tiny://` models, a cache folder of this
    machine); record the model as the run config names it instead."""
    path = folder / ADAPTER_CONFIG
    if path.is_file():
        adapter = json.loads(path.read_text(encoding="utf-8"))
        adapter["base_model_name_or_path"] = base
        path.write_text(json.dumps(adapter, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def list_checkpoints(run_dir: Path) -> list[Path]:
    found = [(int(m.group(1)), p) for p in run_dir.glob("checkpoint-*") if (m := PATTERN.match(p.name))]
    return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]


def prune(run_dir: Path, keep_last: int | None) -> None:
    if keep_last is None:
        return
    for old in list_checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(path: str | Path) -> Path:
    """`path` is a checkpoint folder or a run folder (its latest complete checkpoint is used)."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    found = list_checkpoints(path) if path.is_dir() else []
    if not found:
        raise ConfigError(f"--resume: no checkpoint in {str(path)!r} (expected checkpoint-N/{STATE_FILE})")
    return found[-1]


def saved_config(resume: str | Path) -> Path:
    """The run config a checkpoint was written with (what `train --resume RUN` continues without CONFIG)."""
    path = find_checkpoint(resume) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"--resume: {path.parent} has no {CONFIG_FILE}; give the run's CONFIG as well")
    return path


def load_state(checkpoint: Path) -> dict[str, Any]:
    # weights_only=False: the state holds numpy RNG tuples and our own dicts, written by this trainer.
    return torch.load(checkpoint / STATE_FILE, map_location="cpu", weights_only=False)
