"""Offline development aids for the judge: a tiny random judge model built locally, a loopback vLLM server.

The judge's tests and benchmarks use these so it can be exercised end to end with no hub access; they are
dev tooling, not part of the installed package. A random
model's verdicts are noise: this exercises plumbing (requests, parsing, logprobs, batching), not judgement.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def build_tiny_judge_model(path: str | Path, seed: int = 0, vocab_size: int = 600) -> Path:
    """Write a random Qwen2 model (~0.2M params, head_dim 32 for vLLM-CPU) with a chat template to `path`."""
    from rewardkit.trainer.tiny import TinySpec, build_tiny

    spec = TinySpec(hidden=64, layers=2, heads=2, kv_heads=2, vocab=vocab_size, max_positions=4096, seed=seed)
    return build_tiny(spec, Path(path))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVED_MODEL = "tiny-judge"


class LocalVllmServer:
    """vLLM's OpenAI-compatible server on loopback, started and stopped by this object (vllm-cpu works)."""

    def __init__(
        self,
        model: str | Path,
        max_model_len: int = 2048,
        port: int | None = None,
        memory_fraction: float = 0.1,
    ) -> None:
        self.model = str(model)
        self.memory_fraction = memory_fraction
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="rewardkit-vllm-")
        self.log_path = Path(self._tmp.name) / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def backend(self, **extra: Any) -> dict[str, Any]:
        """Judge backend settings for this server: constrained choice through vLLM's own extension."""
        return {
            "kind": "openai",
            "model": SERVED_MODEL,
            "base_url": self.base_url,
            "constrain": "vllm_choice",
            **extra,
        }

    def start(self, timeout: float = 240.0) -> LocalVllmServer:
        # `python -m` because the `vllm` console script fails under the vllm-cpu distribution.
        command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model]
        command += ["--served-model-name", SERVED_MODEL, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--dtype", "float32", "--enforce-eager", "--max-model-len", str(self.max_model_len)]
        # On CPU this flag is the fraction of RAM reserved; the default (0.92) fails on a shared machine.
        command += ["--gpu-memory-utilization", str(self.memory_fraction)]
        env = {**os.environ, "VLLM_CACHE_ROOT": self._tmp.name, "OMP_NUM_THREADS": "1"}
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; plenty for a tiny model
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"vLLM server exited early; log:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        self.stop()
        raise RuntimeError(f"vLLM server not ready after {timeout:g}s; log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the server's whole process group (vLLM starts an engine child process)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> LocalVllmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
