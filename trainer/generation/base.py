"""The interface every generation backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rewardkit.trainer.config import TrainConfig
    from rewardkit.trainer.generation.weight_sync import PolicyWeights


@dataclass(frozen=True)
class SamplingSpec:
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    greedy: bool = False
    stop_token_ids: tuple[int, ...] = ()  # see rewardkit.trainer.generation.stops
    stop_strings: tuple[str, ...] = ()  # a completion ends with the token that completes one of these


@dataclass
class Completions:
    """One completion per (prompt, repeat), in prompt order: [p0 x n, p1 x n, ...]."""

    token_ids: list[list[int]]  # generated tokens, the stop token included when emitted, no padding
    logprobs: list[list[float]]  # the sampling log-prob of each token (convention: generation/sampling.py)
    truncated: list[bool]  # stopped by max_new_tokens rather than a stop token or string

    def __len__(self) -> int:
        return len(self.token_ids)

    def extend(self, other: Completions) -> None:
        self.token_ids += other.token_ids
        self.logprobs += other.logprobs
        self.truncated += other.truncated


class GenerationBackend(Protocol):
    name: str

    def generate(self, prompts: list[list[int]], n: int, spec: SamplingSpec, seed: int) -> Completions:
        """Sample `n` completions of each tokenised prompt. `seed` makes the draw reproducible on resume."""

    def sync_weights(self, weights: PolicyWeights) -> None:
        """Make the engine generate with the policy's current weights (a collective under sharding)."""

    def close(self) -> None: ...


def make_backend(
    config: TrainConfig, model: Any, tokenizer: Any, model_dir: str, rank: int = 0
) -> GenerationBackend:
    if config.generation.backend == "vllm" and config.generation.vllm.mode == "server":
        from rewardkit.trainer.generation.vllm_server import VllmServerBackend

        return VllmServerBackend(config.generation.vllm, rank)
    if config.generation.backend == "vllm":
        from rewardkit.trainer.generation.vllm_engine import VllmBackend

        gen = config.generation
        dtype = config.model.compute_dtype
        return VllmBackend(model_dir, gen.vllm, dtype, config.seed, bool(gen.stop_strings))
    from rewardkit.trainer.generation.hf import TransformersBackend

    return TransformersBackend(model, tokenizer, share_prefix=config.share_prompt_prefix)
