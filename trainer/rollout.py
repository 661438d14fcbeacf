"""A rollout batch as tensors: prompts left-padded, completions right-padded, masks and cached log-probs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from accelerate.utils import extract_model_from_parallel
from torch.utils.checkpoint import checkpoint

from rewardkit.trainer.generation.base import Completions
from rewardkit.trainer.loss import entropy, selective_logprobs
from rewardkit.trainer.prefix import group_owners, kv_cache, positions


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
    counted: torch.Tensor | None = None  # [N] bool: in the batch (it has a reward; its group is not dropped)
    trainable: torch.Tensor | None = None  # [N] bool: counted and not masked (a truncated completion)
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
    chunked: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs of the completion tokens under `model` (and their entropies if asked).

    `share_prefix` runs each group's prompt once (see rewardkit.trainer.prefix); the result is the same.
    `chunked` computes them from the last hidden states through the model's output layer in tiles (see
    `OutputHead`), so the [rows, completion, vocabulary] logits never exist at once; otherwise they come
    from the model's own logits.
    """
    if not chunked:
        logits = _completion_states(model, batch, share_prefix, hidden=False)
        targets = batch.input_ids[:, batch.prompt_width :]
        logp = selective_logprobs(logits, targets, temperature)
        return logp, entropy(logits, temperature) if with_entropy else None
    hidden = _completion_states(model, batch, share_prefix, hidden=True)
    head = OutputHead.of(model)
    mask = batch.completion_mask
    targets = batch.input_ids[:, batch.prompt_width :][mask]
    logp, ent = head.logprobs(hidden[mask], targets, temperature, with_entropy)
    logp = logp.new_zeros(mask.shape, dtype=logp.dtype).masked_scatter(mask, logp)
    if ent is not None:
        ent = ent.new_zeros(mask.shape).masked_scatter(mask, ent)
    return logp, ent


# Logit tiles hold at most this many values (256 MB in float32). Each tile adds one accumulation into the
# output layer's weight gradient, so much smaller tiles cost time; much larger ones, memory.
LOGIT_TILE = 1 << 26


@dataclass(frozen=True)
class OutputHead:
    """How a causal LM turns its last hidden states into logits: its output layer, a scale and a soft cap.

    Log-probs go through it in tiles of tokens; when there are several, each tile's logits are recomputed
    in the backward pass (activation checkpointing) instead of being kept, so memory holds one tile rather
    than every token's logits. The layer is called as a module, so FSDP / DeepSpeed gather its weights as
    for any forward.
    """

    layer: torch.nn.Module
    vocab: int
    scale: float = 1.0
    softcap: float | None = None

    @classmethod
    def of(cls, model: Any) -> OutputHead:
        model = extract_model_from_parallel(model)
        text = model.config.get_text_config()
        scale = getattr(text, "logit_scale", None) or 1.0
        if getattr(text, "logits_scaling", None):
            scale = 1.0 / text.logits_scaling
        softcap = getattr(text, "final_logit_softcapping", None)
        return cls(model.get_output_embeddings(), int(text.vocab_size), float(scale), softcap)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.layer(hidden).float()
        if self.scale != 1.0:
            logits = logits * self.scale
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def logprobs(
        self, hidden: torch.Tensor, targets: torch.Tensor, temperature: float, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """log p(target) (and the entropy) for [n, hidden] states and their [n] targets."""
        rows = max(1, LOGIT_TILE // self.vocab)
        # One tile is kept for backward like any activation; several are recomputed there, one at a time.
        recompute = torch.is_grad_enabled() and hidden.requires_grad and hidden.shape[0] > rows
        parts = []
        for start in range(0, max(1, hidden.shape[0]), rows):
            args = (hidden[start : start + rows], targets[start : start + rows], temperature, with_entropy)
            if recompute:
                parts.append(checkpoint(self._tile, *args, use_reentrant=False))
            else:
                parts.append(self._tile(*args))
        logp = torch.cat([p[0] for p in parts])
        return logp, torch.cat([p[1] for p in parts]) if with_entropy else None

    def _tile(
        self, hidden: torch.Tensor, targets: torch.Tensor, temperature: float, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.logits(hidden)
        logp = selective_logprobs(logits, targets, temperature)
        ent = entropy(logits, temperature) if with_entropy else logp.detach()
        return logp, ent


def chunked_logprobs_match(model: Any, temperature: float) -> bool:
    """Whether `OutputHead` reproduces the model's own log-probs (an output layer it does not know, or a
    model that takes no `logits_to_keep` index / hidden-state request, makes the trainer use the logits)."""
    ids = torch.arange(3, 11, device=next(model.parameters()).device).view(2, 4)
    batch = RolloutBatch(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        completion_mask=torch.ones(2, 2, dtype=torch.bool, device=ids.device),
        sampling_logp=torch.zeros(2, 2, device=ids.device),
        truncated=torch.zeros(2, dtype=torch.bool),
        prompt_width=2,
        group=torch.zeros(2, dtype=torch.long),
    )
    with torch.no_grad():
        plain = forward_logprobs(model, batch, temperature, chunked=False)[0]
        try:
            chunked = forward_logprobs(model, batch, temperature, chunked=True)[0]
        except (TypeError, AttributeError, IndexError, ValueError):
            return False
    return bool(torch.allclose(plain, chunked, atol=1e-3, rtol=1e-3))


def _completion_states(model: Any, batch: RolloutBatch, share_prefix: bool, hidden: bool) -> torch.Tensor:
    """[N, C, ...] what predicts each completion token: the last hidden states, or the logits."""
    if share_prefix and batch.prompt_width > 0:
        return _shared_prefix_states(model, batch, hidden)
    out = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=positions(batch.attention_mask),
        use_cache=False,
        **_wanted(batch.completion_width + 1, hidden, batch.input_ids.device),
    )
    return _states(out, hidden)[:, -batch.completion_width - 1 : -1]


def _shared_prefix_states(model: Any, batch: RolloutBatch, hidden: bool) -> torch.Tensor:
    first, owner = group_owners(batch.group)
    width, device = batch.prompt_width, batch.input_ids.device
    prompt_mask = batch.attention_mask[first, :width]
    out = model(
        input_ids=batch.input_ids[first, :width],
        attention_mask=prompt_mask,
        position_ids=positions(prompt_mask),
        use_cache=True,
        **_wanted(1, hidden, device),
    )
    cache = kv_cache(out)
    cache.batch_select_indices(owner)
    last = _states(out, hidden)[:, -1:]
    rest = model(
        input_ids=batch.input_ids[:, width:],
        attention_mask=batch.attention_mask,
        position_ids=positions(batch.attention_mask)[:, width:],
        past_key_values=cache,
        use_cache=True,
        **_wanted(0, hidden, device),
    )
    # The prompt's last position predicts completion token 0; the last completion position predicts nothing.
    return torch.cat([last[owner], _states(rest, hidden)[:, :-1]], dim=1)


def _wanted(logits_to_keep: int, hidden: bool, device: torch.device) -> dict[str, Any]:
    """Model kwargs: the last hidden states with no logits at all (an empty index), or the last logits."""
    if hidden:
        nothing = torch.empty(0, dtype=torch.long, device=device)
        return {"logits_to_keep": nothing, "output_hidden_states": True}
    return {"logits_to_keep": logits_to_keep}


def _states(out: Any, hidden: bool) -> torch.Tensor:
    # transformers returns the final (normed) hidden state as the last of `hidden_states`.
    return out.hidden_states[-1] if hidden else out.logits
