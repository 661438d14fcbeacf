"""Shared prompt prefix: the G completions of a GRPO group share one prompt, so the prompt runs once.

Its KV cache is copied to the group's rows with an index (a differentiable gather), so gradients from every
completion flow back through the single prompt pass. This removes (G - 1) / G of the prompt tokens from both
the generation prefill and the training forward/backward.
"""

from __future__ import annotations

from typing import Any

import torch


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that count real tokens only, so left padding does not shift them (as `generate` does)."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def group_owners(group: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For rows sorted by group: a mask of each group's first row, and each row's index among the groups."""
    first = torch.ones_like(group, dtype=torch.bool)
    first[1:] = group[1:] != group[:-1]
    return first, first.cumsum(0) - 1


def prefill(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """Run prompts once; returns the logits at each prompt's last position and the KV cache."""
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=positions(attention_mask),
        use_cache=True,
        logits_to_keep=1,
    )
    return out.logits, kv_cache(out)


def kv_cache(out: Any) -> Any:
    """The KV cache a forward with `use_cache=True` returned; a model that returns none cannot share."""
    if out.past_key_values is None:
        raise RuntimeError(
            "the model returned no KV cache, so prompts cannot be shared across a group; "
            "set grpo.share_prompt_prefix=false"
        )
    return out.past_key_values
