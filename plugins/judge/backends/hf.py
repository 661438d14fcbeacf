"""A local causal LM judged in-process with transformers, in batches.

Two ways to get a verdict: `generate` text (greedy or sampled) and parse it, or `choice`: score each
label's continuation by its log-likelihood and read the verdict off that distribution. Choice mode always
yields a valid label and is deterministic, which is what a small or weak judge needs.
Model calls run in a worker thread (never on the event loop), one batch at a time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

from rewardkit.plugins.judge.backends.base import (
    JudgeBackend,
    JudgeBackendError,
    JudgeReply,
    JudgeRequest,
    Outcome,
    TokenLogprob,
)
from rewardkit.plugins.judge.config import TransformersBackendConfig


class TransformersBackend(JudgeBackend):
    kind = "transformers"

    def __init__(self, config: TransformersBackendConfig) -> None:
        self.config = config
        self.batches = 0  # forward/generate batches run (for tests and stats)
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.config.model, "dtype": self.config.dtype}

    async def setup(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.config.model)
            tokenizer.padding_side = "left"  # generation continues from the right edge
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            dtype = getattr(torch, self.config.dtype)
            model = AutoModelForCausalLM.from_pretrained(self.config.model, dtype=dtype)
            # transformers types `.to` through a decorator that mypy reads as taking a model, not a device
            self._model = model.to(self.config.device).eval()  # type: ignore[arg-type]
            self._tokenizer = tokenizer

    async def aclose(self) -> None:
        with self._lock:
            self._model = self._tokenizer = None

    async def complete(self, requests: Sequence[JudgeRequest]) -> list[Outcome]:
        return await asyncio.to_thread(self._complete, list(requests))

    def _complete(self, requests: list[JudgeRequest]) -> list[Outcome]:
        self._load()
        with self._lock:
            outcomes: dict[int, Outcome] = {}
            prompts: dict[int, list[int]] = {}
            for index, request in enumerate(requests):
                ids = self._prompt_ids(request)
                if len(ids) > self.config.max_input_tokens:
                    limit = self.config.max_input_tokens
                    outcomes[index] = JudgeBackendError(
                        "input", f"judge prompt has {len(ids)} tokens > {limit}"
                    )
                else:
                    prompts[index] = ids
            for group in _groups(prompts, requests):
                for chunk in _chunks(group, self._chunk_size(requests[group[0]])):
                    batch = [(prompts[i], requests[i]) for i in chunk]
                    run = self._choose if requests[chunk[0]].choices else self._generate
                    outcomes.update(zip(chunk, run(batch), strict=True))
                    self.batches += 1
            return [outcomes[i] for i in range(len(requests))]

    def _chunk_size(self, request: JudgeRequest) -> int:
        # In choice mode every label is one sequence; batch_size counts sequences.
        return max(1, self.config.batch_size // max(1, len(request.choices)))

    def _prompt_ids(self, request: JudgeRequest) -> list[int]:
        messages = [dict(m) for m in request.messages]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def _choose(self, batch: list[tuple[list[int], JudgeRequest]]) -> list[Outcome]:
        """Log-likelihood of each label's continuation; the reply text is the most likely one."""
        import torch

        rows, spans = [], []
        for prompt, request in batch:
            for label in request.choices:
                continuation = self._encode(_answer(label, request.verdict_key))
                rows.append(prompt + continuation)
                spans.append((len(prompt), len(continuation)))
        ids, mask = self._pad(rows)
        with torch.inference_mode():
            logits = self._model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask)).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        width = ids.shape[1]
        scores = []
        for row, (start, length) in enumerate(spans):
            offset = width - len(rows[row])  # left padding
            positions = range(offset + start, offset + start + length)
            scores.append(sum(float(logprobs[row, p - 1, ids[row, p]]) for p in positions))
        replies: list[Outcome] = []
        for prompt, request in batch:
            labels = dict(zip(request.choices, scores[: len(request.choices)], strict=True))
            scores = scores[len(request.choices) :]
            best = max(labels, key=labels.__getitem__)
            text = _answer(best, request.verdict_key)
            replies.append(
                JudgeReply(text, prompt_tokens=len(prompt), choice_logprobs=labels, finish_reason="choice")
            )
        return replies

    def _generate(self, batch: list[tuple[list[int], JudgeRequest]]) -> list[Outcome]:
        import torch

        request = batch[0][1]
        ids, mask = self._pad([prompt for prompt, _ in batch])
        sampled = request.temperature > 0
        if request.seed is not None:
            torch.manual_seed(request.seed)
        options: dict[str, Any] = {"do_sample": sampled, "max_new_tokens": request.max_tokens}
        if sampled:
            options.update(temperature=request.temperature, top_p=request.top_p)
        else:
            options.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self._model.generate(
                input_ids=ids,
                attention_mask=mask,
                pad_token_id=self._tokenizer.pad_token_id,
                eos_token_id=self._tokenizer.eos_token_id,
                output_scores=bool(request.top_logprobs),
                return_dict_in_generate=True,
                **options,
            )
        new = out.sequences[:, ids.shape[1] :]
        replies: list[Outcome] = []
        for row in range(new.shape[0]):
            tokens = self._until_eos(new[row].tolist())
            steps = [out.scores[t][row] for t in range(len(tokens))] if request.top_logprobs else []
            replies.append(
                JudgeReply(
                    text=self._tokenizer.decode(tokens, skip_special_tokens=True),
                    prompt_tokens=int(mask[row].sum()),
                    completion_tokens=len(tokens),
                    logprobs=self._token_logprobs(tokens, steps, request.top_logprobs),
                    finish_reason="stop" if len(tokens) < new.shape[1] else "length",
                )
            )
        return replies

    def _until_eos(self, tokens: list[int]) -> list[int]:
        stop = {self._tokenizer.eos_token_id, self._tokenizer.pad_token_id}
        for index, token in enumerate(tokens):
            if token in stop:
                return tokens[:index]
        return tokens

    def _token_logprobs(self, tokens: list[int], steps: list[Any], k: int) -> tuple[TokenLogprob, ...]:
        import torch

        if not k:
            return ()
        result = []
        for token, scores in zip(tokens, steps, strict=True):
            logprobs = torch.log_softmax(scores.float(), dim=-1)
            values, indices = logprobs.topk(k)
            top = {self._tokenizer.decode([int(i)]): float(v) for v, i in zip(values, indices, strict=True)}
            result.append(TokenLogprob(self._tokenizer.decode([token]), float(logprobs[token]), top))
        return tuple(result)

    def _encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def _pad(self, rows: list[list[int]]) -> tuple[Any, Any]:
        import torch

        width = max(len(r) for r in rows)
        pad = self._tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.config.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.config.device)
        return ids, mask


def _answer(label: str, key: str | None) -> str:
    return label if key is None else json.dumps({key: label})


def _positions(mask: Any) -> Any:
    # Explicit positions make a left-padded row compute what it would alone, so scores do not depend on
    # which other requests share the batch.
    return (mask.cumsum(-1) - 1).clamp(min=0)


def _groups(prompts: dict[int, list[int]], requests: Sequence[JudgeRequest]) -> list[list[int]]:
    """Requests that can share one batch: same mode and sampling settings."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index in prompts:
        r = requests[index]
        key = (r.choices, r.verdict_key, r.temperature, r.top_p, r.max_tokens, r.seed, r.top_logprobs)
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
