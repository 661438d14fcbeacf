"""Generation with the transformers policy itself: runs anywhere, shares the trainer's weights (no sync).

A plain KV-cached loop over the model's own forward: the prompts run once (each group's shared prompt once,
see rewardkit.trainer.prefix), then one token per step for the rows still decoding (finished rows leave the
batch, so a step costs what the unfinished completions need). The loop samples itself rather than calling
`generate`, so nothing from the model's `generation_config` (a repetition penalty, top-k, ...) can slip into
the sampled distribution unseen, and the log-probs follow the one convention of sampling.py.

A sharded policy (FSDP, DeepSpeed ZeRO-3) gathers its weights inside every forward, a collective: there
every process decodes until all have finished (as `generate(synced_gpus=True)` does), so none is left
waiting in a gather that a process which stopped early never joins.
"""

from __future__ import annotations

from typing import Any

import torch

from rewardkit.trainer.generation.base import Completions, SamplingSpec
from rewardkit.trainer.generation.sampling import sample
from rewardkit.trainer.prefix import positions, prefill


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: Any, tokenizer: Any, share_prefix: bool = True) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.share_prefix = share_prefix
        self.pad_id = int(tokenizer.pad_token_id)
        self.synced = is_sharded(model)
        self._stop_strings: dict[tuple[str, ...], Any] = {}

    def sync_weights(self, weights: Any) -> None:
        return None  # the trainer's own tensors: nothing to copy

    def close(self) -> None:
        return None

    # Inference mode, not just no_grad: tensors skip version counting and view tracking, which is a
    # visible share of a small model's decode step.
    @torch.inference_mode()
    def generate(self, prompts: list[list[int]], n: int, spec: SamplingSpec, seed: int) -> Completions:
        device = self.model.device
        input_ids, attention = (t.to(device) for t in left_pad(prompts, self.pad_id))
        was_training = self.model.training
        self.model.eval()  # dropout off while sampling
        try:
            cache = self._shared_prompt_cache(input_ids, attention, n)
            input_ids, attention = input_ids.repeat_interleave(n, 0), attention.repeat_interleave(n, 0)
            # A private RNG stream: the draw depends only on (seed, weights), so a resumed run repeats it.
            generator = torch.Generator(device).manual_seed(seed)
            return self._decode(input_ids, attention, spec, generator, cache)
        finally:
            self.model.train(was_training)

    def _shared_prompt_cache(self, input_ids: torch.Tensor, attention: torch.Tensor, n: int) -> Any:
        """All but each prompt's last token, run once and copied to its n rows; decoding feeds the rest."""
        if not self.share_prefix or n == 1 or input_ids.shape[1] < 2:
            return None
        _, cache = prefill(self.model, input_ids[:, :-1], attention[:, :-1])
        cache.batch_repeat_interleave(n)
        return cache

    def _decode(
        self,
        input_ids: torch.Tensor,
        attention: torch.Tensor,
        spec: SamplingSpec,
        generator: torch.Generator,
        cache: Any,
    ) -> Completions:
        from transformers import DynamicCache

        cache = cache if cache is not None else DynamicCache(config=self.model.config)
        feed = input_ids[:, cache.get_seq_length() :]  # what the cache has not seen yet
        position = positions(attention)[:, -feed.shape[1] :]
        device = feed.device
        stop_ids = torch.tensor(spec.stop_token_ids, dtype=torch.long, device=device)
        stop_strings = self._stop_string_check(spec.stop_strings)
        rows = len(feed)
        tokens = torch.full((rows, spec.max_new_tokens), self.pad_id, dtype=torch.long, device=device)
        logprobs = torch.zeros((rows, spec.max_new_tokens), dtype=torch.float32, device=device)
        length = torch.zeros(rows, dtype=torch.long, device=device)
        live = torch.arange(rows, device=device)  # the output row of each row still in the batch
        ended = torch.zeros(rows, dtype=torch.bool, device=device)  # per batch row: stopped, not yet dropped
        stopped_rows = torch.zeros(rows, dtype=torch.bool, device=device)  # per output row
        for step in range(spec.max_new_tokens):
            logits = self.model(
                input_ids=feed,
                attention_mask=attention,
                position_ids=position,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1]
            token, logp = sample(logits, spec, generator)
            going = live[~ended]
            tokens[going, step], logprobs[going, step] = token[~ended], logp[~ended]
            length[going] += 1
            stopped = torch.isin(token, stop_ids)
            if stop_strings is not None:
                stopped |= stop_strings(tokens[live, : step + 1], None)
            ended |= stopped
            stopped_rows[live[ended]] = True
            if self._all_finished(bool(ended.all()), device):
                break
            feed, position = token.unsqueeze(-1), position[:, -1:] + 1
            attention = torch.cat([attention, attention.new_ones((len(live), 1))], dim=-1)
            # Finished rows leave the batch, so every later step computes only rows still decoding; in
            # groups of an eighth of the batch, since each removal copies the whole KV cache once.
            if 8 * int(ended.sum()) >= len(live):
                keep = torch.nonzero(~ended).flatten()
                keep = keep if len(keep) else keep.new_zeros(1)  # synced: one row keeps the forwards going
                cache.batch_select_indices(keep)
                live, feed, position, attention = live[keep], feed[keep], position[keep], attention[keep]
                ended = ended[keep]
        ends = length.tolist()
        return Completions(
            [row[:end] for row, end in zip(tokens.tolist(), ends, strict=True)],
            [row[:end] for row, end in zip(logprobs.tolist(), ends, strict=True)],
            (~stopped_rows).tolist(),
        )

    def _all_finished(self, finished: bool, device: torch.device) -> bool:
        """Whether the decode loop may stop: this process's rows are done and, for a sharded policy, every
        other process's too (one all-reduce per step)."""
        if not self.synced:
            return finished
        import torch.distributed as dist

        running = torch.tensor([0 if finished else 1], device=device)
        dist.all_reduce(running)
        return int(running.item()) == 0

    def _stop_string_check(self, strings: tuple[str, ...]) -> Any:
        """transformers' StopStringCriteria over the generated tokens only (not the prompt), as vLLM checks
        stop strings in the generated text: a row stops at the token that completes a stop string."""
        if not strings:
            return None
        if strings not in self._stop_strings:
            from transformers import StopStringCriteria

            self._stop_strings[strings] = StopStringCriteria(self.tokenizer, list(strings))
        return self._stop_strings[strings]


def is_sharded(model: Any) -> bool:
    """Whether `model`'s forward gathers parameters across processes: FSDP1 (a wrapper module), FSDP2 (DTensor
    parameters) or DeepSpeed ZeRO-3 (partitioned parameters carry `ds_id`)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return False
    from torch.distributed.fsdp import FullyShardedDataParallel
    from torch.distributed.tensor import DTensor

    if any(isinstance(module, FullyShardedDataParallel) for module in model.modules()):
        return True
    return any(isinstance(p, DTensor) or hasattr(p, "ds_id") for p in model.parameters())


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
    return ids, mask
