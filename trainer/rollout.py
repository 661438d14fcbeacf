"""A rollout batch as tensors: prompts left-padded, completions right-padded, masks and cached log-probs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from rewardkit.trainer.generation.base import Completions
from rewardkit.trainer.loss import entropy, selective_logprobs


@dataclass
class RolloutBatch:
    input_ids: torch.Tensor  # [N, P + C]
    attention_mask: torch.Tensor  # [N, P + C]
    completion_mask: torch.Tensor  # [N, C] bool
    sampling_logp: torch.Tensor  # [N, C] the generator's log-probs
    truncated: torch.Tensor  # [N] bool
    prompt_width: int
    advantages: torch.Tensor | None = None  # [N]
    trainable: torch.Tensor | None = None  # [N] bool
    old_logp: torch.Tensor | None = None  # [N, C] trainer log-probs before this rollout's first update
    ref_logp: torch.Tensor | None = None  # [N, C]

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def completion_width(self) -> int:
        return self.input_ids.shape[1] - self.prompt_width

    def rows(self, index: slice) -> RolloutBatch:
        """A micro-batch: the rows in `index`, with completion columns that are padding everywhere trimmed."""
        width = int(self.completion_mask[index].sum(-1).max().item()) if len(self) else 0
        width = max(1, width)
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = value[index]
                if value.dim() == 2:
                    keep = self.prompt_width + width if value.shape[1] == self.input_ids.shape[1] else width
                    value = value[:, :keep]
            out[f.name] = value
        return RolloutBatch(**out)


def build_batch(prompts: list[list[int]], completions: Completions, n: int, pad_id: int) -> RolloutBatch:
    """`prompts` are the unique prompts; completions hold n per prompt in order."""
    rows = [p for p in prompts for _ in range(n)]
    p_width = max(len(p) for p in rows)
    c_width = max(1, *(len(c) for c in completions.token_ids))
    count = len(rows)
    ids = torch.full((count, p_width + c_width), pad_id, dtype=torch.long)
    attention = torch.zeros((count, p_width + c_width), dtype=torch.long)
    sampling = torch.zeros((count, c_width), dtype=torch.float32)
    for i, (prompt, tokens, lps) in enumerate(
        zip(rows, completions.token_ids, completions.logprobs, strict=True)
    ):
        ids[i, p_width - len(prompt) : p_width] = torch.tensor(prompt, dtype=torch.long)
        ids[i, p_width : p_width + len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        attention[i, p_width - len(prompt) : p_width + len(tokens)] = 1
        sampling[i, : len(lps)] = torch.tensor(lps, dtype=torch.float32)
    return RolloutBatch(
        input_ids=ids,
        attention_mask=attention,
        completion_mask=attention[:, p_width:].bool(),
        sampling_logp=sampling,
        truncated=torch.tensor(completions.truncated, dtype=torch.bool),
        prompt_width=p_width,
    )


def forward_logprobs(
    model: Any, batch: RolloutBatch, temperature: float, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs of the completion tokens under `model` (and their entropies if asked)."""
    # Positions count real tokens only, so left padding does not shift them (matches generate()).
    positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    width = batch.completion_width
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions,
        logits_to_keep=width + 1,  # the LM head only runs where completion tokens are predicted
        use_cache=False,
    )
    logits = out.logits[:, :-1]
    targets = batch.input_ids[:, batch.prompt_width :]
    logp = selective_logprobs(logits, targets, temperature)
    return logp, entropy(logits, temperature) if with_entropy else None
