"""Drawing the next token from a model's logits, and the log-prob every backend reports for it.

The convention, identical on every backend (vLLM's `processed_logprobs`, which rewardkit's vLLM backends
request): a sampling log-prob is the log-prob of the token under the distribution it was drawn from, i.e.
`logits / temperature`, restricted to the top-k tokens and then to the top-p nucleus, renormalised.

Why after the truncation: the trainer recomputes the untruncated `log_softmax(logits / temperature)` and
weights each token by `exp(trainer - sampler)` (truncated importance sampling). An importance weight must
divide by the density the token was actually drawn from; with top-k / top-p that is the truncated one, and
reporting the untruncated log-prob instead would over-weight every token by 1 / (the probability mass kept),
a factor that differs from token to token. With `top_p = 1` and `top_k = 0` both readings coincide.
Greedy requests report `log_softmax(logits)` (temperature 1, untruncated), as vLLM does.
"""

from __future__ import annotations

import torch

from rewardkit.trainer.generation.base import SamplingSpec


def processed_logits(logits: torch.Tensor, spec: SamplingSpec) -> torch.Tensor:
    """The logits whose softmax is the sampling distribution: tempered, then top-k, then top-p (float32)."""
    logits = logits.float()
    if spec.greedy:
        return logits
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    shape = logits.shape
    logits = logits.reshape(-1, shape[-1]) / spec.temperature  # the warpers take [rows, vocab]
    if spec.top_k:
        logits = TopKLogitsWarper(spec.top_k)(None, logits)
    if spec.top_p < 1.0:
        logits = TopPLogitsWarper(spec.top_p)(None, logits)
    return logits.reshape(shape)


def sampling_logprobs(logits: torch.Tensor, tokens: torch.Tensor, spec: SamplingSpec) -> torch.Tensor:
    """The reported log-prob of `tokens` [...] given the logits [..., V] they were sampled from."""
    logp = torch.log_softmax(processed_logits(logits, spec), dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def sample(
    logits: torch.Tensor, spec: SamplingSpec, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row of `logits` [N, V] and its sampling log-prob (see the module docstring)."""
    logp = torch.log_softmax(processed_logits(logits, spec), dim=-1)
    if spec.greedy:
        token = logp.argmax(-1)
    else:
        token = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)
    return token, logp.gather(-1, token.unsqueeze(-1)).squeeze(-1)
