"""The policy objectives (clipped GRPO, GSPO, CISPO), their KL term and how each averages over tokens.

All functions are pure tensor code so each piece is unit-tested against hand-computed values. How a loss
type averages is expressed as one weight per completion (`row_weights`), computed once for the whole
optimizer step: the micro-batches' losses then sum to the step's loss however rows are grouped or skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

LossType = Literal["grpo", "dr_grpo", "dapo", "bnpo", "gspo", "cispo"]
KLEstimator = Literal["k3", "k3_is"]


def selective_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(target) for every position, at `temperature` (the distribution the generator sampled)."""
    logits = logits.float() if temperature == 1.0 else logits.float() / temperature
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


@torch.no_grad()
def entropy(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    logp = torch.log_softmax(logits.float() if temperature == 1.0 else logits.float() / temperature, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(policy || reference): exp(r - p) - (r - p) - 1, always >= 0."""
    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def tis_weights(old_logp: torch.Tensor, sampling_logp: torch.Tensor, cap: float) -> torch.Tensor:
    """Truncated importance sampling: corrects for the generator's log-probs differing from the trainer's."""
    return torch.exp(old_logp - sampling_logp).clamp(max=cap).detach()


@dataclass(frozen=True)
class LossSpec:
    """Which objective, and its constants (see docs/trainer.md, "The loss menu")."""

    loss_type: LossType = "dapo"
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2
    beta: float = 0.0
    kl_estimator: KLEstimator = "k3"
    cispo_max_ratio: float = 5.0

    @property
    def sequence_level(self) -> bool:
        return self.loss_type == "gspo"


@dataclass
class PolicyLossOutput:
    per_token: torch.Tensor  # [B, T] loss per token (mask not applied)
    ratio: torch.Tensor  # [B, T] pi / pi_old (detached; GSPO's sequence ratio repeated over its tokens)
    kl: torch.Tensor | None  # [B, T] the KL estimate (detached), when beta > 0


def importance_ratio(
    logp: torch.Tensor, old_logp: torch.Tensor, mask: torch.Tensor, sequence_level: bool
) -> torch.Tensor:
    """pi / pi_old per token, or GSPO's per sequence: exp(mean token log-ratio), repeated over the tokens."""
    log_ratio = logp - old_logp
    if not sequence_level:
        return torch.exp(log_ratio)
    weights = mask.to(log_ratio.dtype)
    mean = (log_ratio * weights).sum(-1, keepdim=True) / weights.sum(-1, keepdim=True).clamp(min=1)
    return torch.exp(mean).expand_as(log_ratio)


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    spec: LossSpec,
    ref_logp: torch.Tensor | None = None,
    is_weights: torch.Tensor | None = None,
) -> PolicyLossOutput:
    """Per-token loss: the objective's policy term [* TIS weight] + beta * KL.

    clipped (grpo, dr_grpo, dapo, bnpo, gspo): -min(r A, clip(r, 1 - eps_low, 1 + eps_high) A), with r per
    token, or per sequence for gspo. cispo: -min(r, cispo_max_ratio) A log p with the weight detached, so
    every token keeps a gradient (MiniMax-M1, ScaleRL).
    """
    ratio = importance_ratio(logp, old_logp, mask, spec.sequence_level)
    adv = advantages.unsqueeze(-1)
    if spec.loss_type == "cispo":
        per_token = -ratio.clamp(max=spec.cispo_max_ratio).detach() * adv * logp
    else:
        clipped = torch.clamp(ratio, 1 - spec.epsilon_low, 1 + spec.epsilon_high)
        per_token = -torch.min(ratio * adv, clipped * adv)
    if is_weights is not None:
        per_token = per_token * is_weights
    kl = None
    if spec.beta > 0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs reference log-probs")
        kl = k3_kl(logp, ref_logp)
        if spec.kl_estimator == "k3_is":
            # Samples come from pi_old: weighting by pi / pi_old unbiases the KL gradient (DeepSeek-V3.2).
            kl = kl * ratio
        per_token = per_token + spec.beta * kl
        kl = kl.detach()
    return PolicyLossOutput(per_token, ratio.detach(), kl)


@dataclass(frozen=True)
class StepTotals:
    """Counts over the whole optimizer step (all micro-batches, all processes) that the normalisers use."""

    completions: int  # every completion of the step
    counted: int  # completions in the batch: not dropped (no reward, or a dropped zero-variance group)
    tokens: int  # completion tokens under the loss mask
    micro_batches: int  # bnpo's micro-batches over every process


def row_weights(
    loss_type: LossType,
    loss_mask: torch.Tensor,
    totals: StepTotals,
    max_completion_length: int,
    micro_batch_size: int,
) -> torch.Tensor:
    """[N] weight of each completion's token-loss sum in the step loss, for this process's rows.

    grpo, gspo: each completion's token mean, averaged over the completions in the batch (GRPO's 1/G,
        GSPO's sequence average; a masked completion counts with a loss of 0, as in TRL).
    dr_grpo: token sum / (all completions x max_completion_length): a constant (Dr. GRPO).
    dapo, cispo: token sum / the step's loss tokens: every token weighs the same (DAPO).
    bnpo: token mean within each micro-batch of `micro_batch_size` rows (in batch order), averaged over the
        micro-batches of every process (TRL's bnpo).
    """
    lengths = loss_mask.sum(-1).double()
    if loss_type in ("grpo", "gspo"):
        weights = 1.0 / (lengths.clamp(min=1) * max(1, totals.counted))
    elif loss_type == "dr_grpo":
        weights = torch.full_like(lengths, 1.0 / (max(1, totals.completions) * max_completion_length))
    elif loss_type in ("dapo", "cispo"):
        weights = torch.full_like(lengths, 1.0 / max(1, totals.tokens))
    elif loss_type == "bnpo":
        per_micro_batch = torch.stack([part.sum() for part in lengths.split(micro_batch_size)])
        denominators = per_micro_batch.clamp(min=1).repeat_interleave(micro_batch_size)[: len(lengths)]
        weights = 1.0 / (denominators * max(1, totals.micro_batches))
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}")
    return weights.float()


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """This micro-batch's share of the step loss: sum over rows of weight x masked token-loss sum."""
    return ((per_token * mask.to(per_token.dtype)).sum(-1) * weights.to(per_token.dtype)).sum()


@torch.no_grad()
def clip_fractions(
    ratio: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, spec: LossSpec
) -> dict[str, torch.Tensor]:
    """Token counts where the clip is active (low: A < 0 and r below 1-eps; high: A > 0 and r above 1+eps).

    cispo has no clipped region: its weight is capped where r > cispo_max_ratio (counted as "high").
    """
    adv = advantages.unsqueeze(-1)
    if spec.loss_type == "cispo":
        low = torch.zeros_like(mask)
        high = (ratio > spec.cispo_max_ratio) & mask
    else:
        low = (ratio < 1 - spec.epsilon_low) & (adv < 0) & mask
        high = (ratio > 1 + spec.epsilon_high) & (adv > 0) & mask
    return {"clip/low": low.sum(), "clip/high": high.sum(), "clip/region": (low | high).sum()}
