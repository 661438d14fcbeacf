"""The process-wide settings a run config asks for, applied only where the caller says so.

Building or running a trainer (`GRPOTrainer(...)`, `rewardkit.trainer.train(...)`) changes no
process-wide state: a notebook keeps its torch thread count and its environment. `rewardkit train`
calls `configure_process(config)` first; a script or notebook that wants the same calls it itself.
"""

from __future__ import annotations

import logging
import os

from rewardkit.errors import ConfigError
from rewardkit.trainer.config import TrainConfig

logger = logging.getLogger(__name__)

IN_PROCESS_VLLM = "VLLM_ENABLE_V1_MULTIPROCESSING"


def configure_process(config: TrainConfig) -> None:
    """Apply `config`'s process-wide settings to this process, for the rest of its life.

    - `threads`: torch's CPU thread count (`torch.set_num_threads`).
    - `generation.backend: vllm`: the environment variables vLLM reads (an in-process engine, so weight
      pushes are function calls; its cache folder; the CPU KV-cache size; OMP_NUM_THREADS, without which
      vLLM lowers torch's thread count). Call it before anything imports vllm. Variables already set
      are kept.
    """
    configure_threads(config.threads)
    if config.generation.backend == "vllm":
        from rewardkit.trainer.generation.vllm_engine import prepare_environment

        prepare_environment(config.generation.vllm)


def configure_threads(threads: int | None) -> None:
    """torch's CPU thread count, where a config sets one (`threads`)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def check_process(config: TrainConfig) -> None:
    """What a trainer checks instead of changing the process: a clear error or warning, never a change."""
    generation = config.generation
    # Server mode builds no engine here (the server runs its own), so only colocate needs the variable.
    colocated = generation.backend == "vllm" and generation.vllm.mode == "colocate"
    if colocated and os.environ.get(IN_PROCESS_VLLM) != "0":
        raise ConfigError(
            "generation.backend: vllm (colocate) runs vLLM's engine in this process, which needs "
            f"{IN_PROCESS_VLLM}=0 before vllm is imported; call "
            "rewardkit.trainer.configure_process(config) first (`rewardkit train` does), or set it yourself"
        )
    check_threads(config.threads)


def check_threads(threads: int | None) -> None:
    """A warning where a config's `threads` is not torch's thread count (set by the caller, not here)."""
    if threads:
        import torch

        if torch.get_num_threads() != threads:
            logger.warning(
                "threads: %d is a process-wide setting this trainer does not apply (torch uses %d); call "
                "rewardkit.trainer.configure_process(config) first (`rewardkit train` does)",
                threads,
                torch.get_num_threads(),
            )
