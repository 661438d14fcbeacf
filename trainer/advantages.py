"""Group-relative advantages (GRPO): each completion's reward against the other completions of its prompt.

`rollout_advantages` turns a step's reward outcomes into advantages under the run's settings; the two
normalisations it chooses between are plain tensor functions, tested against hand-computed values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from rewardkit.types import RewardResult

Scale = Literal["group", "batch", "none"]
Aggregation = Literal["sum_then_normalize", "normalize_then_sum"]


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
    grouped = _groups(rewards, group_size)
    valid = ~torch.isnan(grouped)
    mean, std = _nan_mean_std(grouped, dim=1)
    centered = torch.where(valid, grouped - mean, torch.zeros_like(grouped))
    zero_var = ((valid.sum(1, keepdim=True) < 2) | (std < 1e-8)).expand_as(grouped)
    if scale == "group":
        values = centered / (std + eps)
    elif scale == "batch":
        values = centered / (_nan_mean_std(rewards.double(), dim=0)[1] + eps)
    else:
        values = centered
    return _finish(values, valid, zero_var, drop_zero_variance)


def decoupled_advantages(
    components: torch.Tensor,
    weights: torch.Tensor,
    group_size: int,
    drop_zero_variance: bool = False,
    eps: float = 1e-4,
) -> Advantages:
    """GDPO: normalise each reward component within its group, sum them with their weights, then
    normalise the sums over the batch (TRL's `multi_objective_aggregation="normalize_then_sum"`).

    `components` is [N, K] with NaN where a component does not apply (another environment's, or one that
    returned None); `weights` is [K]. A completion with no component is not trainable. Summing raw rewards
    first lets the component with the widest spread decide every advantage; normalising first gives each
    component its own say.
    """
    count = components.shape[1]
    grouped = _groups(components, group_size)  # [groups, G, K]
    mean, std = _nan_mean_std(grouped, dim=1)
    normalised = (grouped - mean) / (std + eps)
    normalised = torch.where(grouped.isnan(), torch.zeros_like(normalised), normalised)
    valid = ~grouped.isnan().all(-1)  # [groups, G]
    summed = (normalised * weights.double().view(1, 1, count)).sum(-1)
    summed = torch.where(valid, summed, torch.full_like(summed, float("nan")))
    batch_mean, batch_std = _nan_mean_std(summed.reshape(-1), dim=0)
    values = torch.where(valid, (summed - batch_mean) / (batch_std + eps), torch.zeros_like(summed))
    _, group_std = _nan_mean_std(summed, dim=1)
    zero_var = ((valid.sum(1, keepdim=True) < 2) | (group_std < 1e-8)).expand_as(summed)
    return _finish(values, valid, zero_var, drop_zero_variance)


def rollout_advantages(
    results: Sequence[RewardResult],
    envs: Sequence[str],
    group_size: int,
    scale: Scale,
    aggregation: Aggregation,
    drop_zero_variance: bool,
    rubric_weights: Mapping[str, Mapping[str, float]],
) -> Advantages:
    """Advantages of a whole step's outcomes (every process's, in order), as the run's config asks.

    `rubric_weights` gives each environment's rubric items and weights; an environment without a rubric
    has one component, its score.
    """
    if aggregation == "normalize_then_sum":
        components, weights = component_table(results, envs, rubric_weights)
        return decoupled_advantages(components, weights, group_size, drop_zero_variance)
    return group_advantages(scores_tensor(results), group_size, scale, drop_zero_variance)


def scores_tensor(results: Sequence[RewardResult]) -> torch.Tensor:
    """Scores with NaN where there is none (not applicable or error): NaN is excluded from advantages."""
    return torch.tensor([float("nan") if r.score is None else r.score for r in results], dtype=torch.float64)


def component_table(
    results: Sequence[RewardResult], envs: Sequence[str], rubric_weights: Mapping[str, Mapping[str, float]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """[N, K] weighted components of every outcome (NaN where one does not apply) and their [K] weights.

    Columns are (environment, rubric item) pairs with a non-zero weight; zero-weight items are metrics.
    """
    columns = [
        (env, item, weight)
        for env in dict.fromkeys(envs)
        for item, weight in (rubric_weights.get(env) or {"": 1.0}).items()
        if weight != 0.0
    ]
    table = torch.full((len(results), len(columns)), float("nan"), dtype=torch.float64)
    for row, (env, result) in enumerate(zip(envs, results, strict=True)):
        if result.score is None:  # no reward (not applicable, or failed): no component counts
            continue
        for col, (column_env, item, _) in enumerate(columns):
            value = result.score if item == "" else result.components.get(item)
            if column_env == env and isinstance(value, int | float):
                table[row, col] = float(value)
    weights = torch.tensor([weight for _, _, weight in columns], dtype=torch.float64)
    return table, weights


def _groups(values: torch.Tensor, group_size: int) -> torch.Tensor:
    if values.shape[0] % group_size:
        raise ValueError(f"{values.shape[0]} rewards do not form groups of {group_size}")
    return values.double().reshape(-1, group_size, *values.shape[1:])


def _nan_mean_std(values: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased std over `dim`, ignoring NaN; 0 where fewer than two values are present."""
    valid = ~torch.isnan(values)
    count = valid.sum(dim, keepdim=True)
    filled = torch.where(valid, values, torch.zeros_like(values))
    mean = filled.sum(dim, keepdim=True) / count.clamp(min=1)
    centered = torch.where(valid, values - mean, torch.zeros_like(values))
    var = (centered**2).sum(dim, keepdim=True) / (count - 1).clamp(min=1)
    return mean, var.sqrt()


def _finish(
    values: torch.Tensor, valid: torch.Tensor, zero_var: torch.Tensor, drop_zero_variance: bool
) -> Advantages:
    trainable = valid & ~zero_var if drop_zero_variance else valid
    values = torch.where(trainable, values, torch.zeros_like(values))
    return Advantages(values.reshape(-1).float(), trainable.reshape(-1), zero_var.reshape(-1))
