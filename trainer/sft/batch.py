"""Examples as padded tensors, and the loss SFT takes over them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rewardkit.trainer.sft.data import Example

IGNORE = -100  # the label cross-entropy skips


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T], right-padded
    attention_mask: torch.Tensor
    labels: torch.Tensor  # input_ids where trained, else IGNORE

    @property
    def trained_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())

    def to(self, device: torch.device) -> Batch:
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device))


def collate(examples: list[Example], pad_id: int) -> Batch:
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(examples):
        tokens = torch.tensor(example.input_ids, dtype=torch.long)
        ids[row, : len(tokens)] = tokens
        attention[row, : len(tokens)] = 1
        labels[row, : len(tokens)] = torch.where(torch.tensor(example.trained), tokens, IGNORE)
    return Batch(ids, attention, labels)


def token_losses(model: Any, batch: Batch) -> torch.Tensor:
    """Summed cross-entropy of the trained tokens (each position predicts the next token)."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).logits
    targets = batch.labels[:, 1:]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE, reduction="sum"
    )
