"""Group-relative advantages (GRPO): each completion's reward against the other completions of its prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Scale = Literal["group", "batch", "none"]


@dataclass
class Advantages:
    values: torch.Tensor  # [N] advantage per completion (0 where not trainable)
    trainable: torch.Tensor  # [N] bool: False for reward None/error and dropped groups
    zero_variance: torch.Tensor  # [N] bool: the completion's group had no reward spread


def group_advantages(
    rewards: torch.Tensor,
    group_size: int,
    scale: Scale = "group",
    drop_zero_variance: bool = False,
    eps: float = 1e-4,
) -> Advantages:
    """`rewards` is [N] with NaN for completions without a score; N = prompts * group_size, grouped.

    NaN rewards are excluded from their group's mean and std and get no advantage. The std is the unbiased
    one (as in TRL); a group with fewer than two scored completions has zero variance.
    scale="group" divides by the group's std, "batch" by the std of all scored rewards, "none" not at all
    (Dr. GRPO: dividing by std up-weights near-solved and near-impossible prompts).
    """
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not form groups of {group_size}")
    grouped = rewards.double().view(-1, group_size)
    valid = ~torch.isnan(grouped)
    count = valid.sum(dim=1, keepdim=True)
    filled = torch.where(valid, grouped, torch.zeros_like(grouped))
    mean = filled.sum(dim=1, keepdim=True) / count.clamp(min=1)
    centered = torch.where(valid, grouped - mean, torch.zeros_like(grouped))
    var = (centered**2).sum(dim=1, keepdim=True) / (count - 1).clamp(min=1)
    std = var.sqrt()
    zero_var = ((count < 2) | (std < 1e-8)).expand_as(grouped)
    if scale == "group":
        values = centered / (std + eps)
    elif scale == "batch":
        scored = rewards[~torch.isnan(rewards)].double()
        batch_std = scored.std() if scored.numel() > 1 else torch.zeros((), dtype=torch.float64)
        values = centered / (batch_std + eps)
    else:
        values = centered
    trainable = valid & ~zero_var if drop_zero_variance else valid
    values = torch.where(trainable, values, torch.zeros_like(values))
    return Advantages(values.view(-1).float(), trainable.reshape(-1), zero_var.reshape(-1))
