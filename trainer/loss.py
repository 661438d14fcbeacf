"""The clipped GRPO objective, its KL term and the four ways of averaging it over tokens.

All functions are pure tensor code so each piece is unit-tested against hand-computed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

LossType = Literal["grpo", "dr_grpo", "dapo", "bnpo"]


def selective_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(target) for every position, at `temperature` (the distribution the generator sampled)."""
    logits = logits.float() / temperature
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


@torch.no_grad()
def entropy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(policy || reference): exp(r - p) - (r - p) - 1, always >= 0."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def tis_weights(old_logp: torch.Tensor, sampling_logp: torch.Tensor, cap: float) -> torch.Tensor:
    """Truncated importance sampling: corrects for the generator's log-probs differing from the trainer's."""
    return torch.exp(old_logp - sampling_logp).clamp(max=cap).detach()


@dataclass
class PolicyLossOutput:
    per_token: torch.Tensor  # [B, T] loss per token (mask not applied)
    ratio: torch.Tensor  # [B, T] pi / pi_old (detached)
    kl: torch.Tensor | None  # [B, T] k3 KL (detached), when a reference is given


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    epsilon_low: float,
    epsilon_high: float,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
    is_weights: torch.Tensor | None = None,
) -> PolicyLossOutput:
    """-min(r A, clip(r, 1-eps_low, 1+eps_high) A) [* TIS weight] + beta * KL, per token."""
    ratio = torch.exp(logp - old_logp)
    adv = advantages.unsqueeze(-1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high) * adv
    per_token = -torch.min(unclipped, clipped)
    if is_weights is not None:
        per_token = per_token * is_weights
    kl = None
    if beta > 0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs reference log-probs")
        kl = k3_kl(logp, ref_logp)
        per_token = per_token + beta * kl
        kl = kl.detach()
    return PolicyLossOutput(per_token, ratio.detach(), kl)


@dataclass(frozen=True)
class Normalizer:
    """Batch-wide totals, so that summing the micro-batches' losses gives the loss of the whole batch."""

    sequences: int  # completions in the optimizer step (all micro-batches, all processes)
    tokens: int  # completion tokens in the optimizer step
    max_completion_length: int
    micro_batches: int


def aggregate(
    per_token: torch.Tensor, mask: torch.Tensor, loss_type: LossType, norm: Normalizer
) -> torch.Tensor:
    """This micro-batch's share of the step loss.

    grpo: mean over sequences of each sequence's token mean (long completions count less per token).
    bnpo: token mean within the micro-batch, averaged over micro-batches.
    dr_grpo: token sum / (sequences * max_completion_length): no length bias (Dr. GRPO).
    dapo: token sum / all tokens of the step: every token weighs the same (DAPO).
    """
    mask = mask.to(per_token.dtype)
    total = per_token * mask
    if loss_type == "grpo":
        return (total.sum(-1) / mask.sum(-1).clamp(min=1)).sum() / norm.sequences
    if loss_type == "bnpo":
        return total.sum() / mask.sum().clamp(min=1) / norm.micro_batches
    if loss_type == "dr_grpo":
        return total.sum() / (norm.sequences * norm.max_completion_length)
    if loss_type == "dapo":
        return total.sum() / max(1, norm.tokens)
    raise ValueError(f"unknown loss_type {loss_type!r}")


@torch.no_grad()
def clip_fractions(
    ratio: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, epsilon_low: float, epsilon_high: float
) -> dict[str, torch.Tensor]:
    """Token counts where the clip is active (low: A < 0 and r below 1-eps; high: A > 0 and r above 1+eps)."""
    adv = advantages.unsqueeze(-1)
    low = (ratio < 1 - epsilon_low) & (adv < 0) & mask
    high = (ratio > 1 + epsilon_high) & (adv > 0) & mask
    return {"clip/low": low.sum(), "clip/high": high.sum(), "clip/region": (low | high).sum()}
