"""A rollout batch as tensors: prompts left-padded, completions right-padded, masks and cached log-probs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from rewardkit.trainer.generation.base import Completions
from rewardkit.trainer.loss import entropy, selective_logprobs
from rewardkit.trainer.prefix import continue_from, group_owners, positions, prefill


@dataclass
class RolloutBatch:
    input_ids: torch.Tensor  # [N, P + C]
    attention_mask: torch.Tensor  # [N, P + C]
    completion_mask: torch.Tensor  # [N, C] bool
    sampling_logp: torch.Tensor  # [N, C] the generator's log-probs
    truncated: torch.Tensor  # [N] bool
    prompt_width: int
    group: torch.Tensor  # [N] index of the row's prompt; rows of one group are adjacent
    advantages: torch.Tensor | None = None  # [N]
    trainable: torch.Tensor | None = None  # [N] bool
    old_logp: torch.Tensor | None = None  # [N, C] trainer log-probs before this rollout's first update
    ref_logp: torch.Tensor | None = None  # [N, C]

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def completion_width(self) -> int:
        return self.input_ids.shape[1] - self.prompt_width

    def to(self, device: torch.device) -> RolloutBatch:
        """The same batch with every tensor on `device` (rollouts are assembled on the CPU)."""
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = value.to(device) if torch.is_tensor(value) else value
        return RolloutBatch(**values)

    def rows(self, index: slice | torch.Tensor) -> RolloutBatch:
        """A micro-batch: the rows in `index`, with completion columns that are padding everywhere trimmed."""
        # Completion columns past every row's last token; the attention mask, not the loss mask, marks
        # them (a multi-turn row has environment tokens inside it that carry no loss but are attended).
        completion = self.attention_mask[index][:, self.prompt_width :]
        width = int(completion.sum(-1).max().item()) if len(self) else 0
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
        group=torch.arange(len(prompts)).repeat_interleave(n),
    )


def forward_logprobs(
    model: Any,
    batch: RolloutBatch,
    temperature: float,
    with_entropy: bool = False,
    share_prefix: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs of the completion tokens under `model` (and their entropies if asked).

    `share_prefix` runs each group's prompt once (see rewardkit.trainer.prefix); the result is the same.
    """
    if share_prefix and batch.prompt_width > 0:
        logits = _shared_prefix_logits(model, batch)
    else:
        logits = _full_logits(model, batch)
    targets = batch.input_ids[:, batch.prompt_width :]
    logp = selective_logprobs(logits, targets, temperature)
    return logp, entropy(logits, temperature) if with_entropy else None


def _full_logits(model: Any, batch: RolloutBatch) -> torch.Tensor:
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions(batch.attention_mask),
        logits_to_keep=batch.completion_width + 1,  # the LM head only runs where completions are predicted
        use_cache=False,
    )
    return out.logits[:, :-1]


def _shared_prefix_logits(model: Any, batch: RolloutBatch) -> torch.Tensor:
    first, owner = group_owners(batch.group)
    width = batch.prompt_width
    last_logits, cache = prefill(model, batch.input_ids[first, :width], batch.attention_mask[first, :width])
    cache.batch_select_indices(owner)
    logits = continue_from(model, cache, batch.input_ids[:, width:], batch.attention_mask)
    # The prompt's last position predicts completion token 0; the last completion position predicts nothing.
    return torch.cat([last_logits[owner], logits[:, :-1]], dim=1)
