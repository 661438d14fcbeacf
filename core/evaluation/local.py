"""Replies from a model in this process, through the trainer's generation backends (transformers or vLLM).

Requests arriving from many concurrent rollouts are gathered into batches: one batch generates (in a worker
thread, so the event loop keeps scoring) while the next one fills. Only the backends' small public protocol
(`generate(prompt_ids, n, SamplingSpec, seed) -> Completions`) and the trainer's model loading are used, so
the trainer's own backend serves evaluation during training as well.

In an episode's turn, the chat template renders the offered tools, and the reply's tool calls are read in the
model's own format (`rewardkit.episodes.ReplyParser.for_tokenizer`), as the trainer reads them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.evaluation.batching import MicroBatcher
from rewardkit.evaluation.config import EvalConfig, SamplingConfig
from rewardkit.evaluation.policy import ContextExceeded, GenerationError, Reply
from rewardkit.types import Message


class LocalChat:
    def __init__(
        self,
        backend: Any,  # a rewardkit.trainer.generation.GenerationBackend
        tokenizer: Any,
        spec: Any,  # a rewardkit.trainer.generation.SamplingSpec, its stop set included
        seed: int = 0,
        batch_size: int = 64,
        max_prompt_length: int = 2048,
        chat_template_kwargs: dict[str, Any] | None = None,
        owns_backend: bool = True,
        tool_format: str | Mapping[str, Any] = "auto",
    ) -> None:
        self.backend = backend
        self.tokenizer = tokenizer
        self.spec = spec
        self.seed = seed
        self.batch_size = batch_size
        self.max_prompt_length = max_prompt_length
        self.template_kwargs = dict(chat_template_kwargs or {})
        self.owns_backend = owns_backend
        self.tool_format = tool_format
        self._parser: Any = None
        self._batcher = MicroBatcher(self._generate, batch_size)
        self._batches = 0

    def encode(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> list[int]:
        ids = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages],
            tools=tools or None,  # None: some templates render a tools preamble even for []
            add_generation_prompt=True,
            tokenize=True,
            return_dict=False,
            **self.template_kwargs,
        )
        return list(ids)

    async def chat(
        self, messages: list[Message], seed: int, tools: list[dict[str, Any]] | None = None
    ) -> Reply:
        # `seed` is not per request here: a batch is drawn with one seed (the run's seed and batch number).
        ids = self.encode(messages, tools)
        if len(ids) > self.max_prompt_length:
            if tools is not None:  # an episode never loses the start of its conversation
                raise ContextExceeded(
                    f"the conversation has {len(ids)} tokens, more than local.max_prompt_length "
                    f"{self.max_prompt_length}"
                )
            ids = ids[-self.max_prompt_length :]
        tokens, truncated = await self._batcher.submit(ids)
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        reply = Reply(text, "length" if truncated else "stop", len(ids), len(tokens))
        if tools is None:
            return reply
        # What the template put before the reply (a generation prompt may open a field, e.g. <think>).
        prefix = self.tokenizer.decode(ids[-16:])
        parsed = self.parser.parse(text, prefix=prefix, tools=tools)
        return dataclasses.replace(reply, message=parsed.message, malformed=parsed.error)

    @property
    def parser(self) -> Any:
        """How this model writes tool calls (a rewardkit.episodes.ReplyParser)."""
        if self._parser is None:
            from rewardkit.episodes import ReplyParser

            self._parser = ReplyParser.for_tokenizer(self.tokenizer, self.tool_format)
        return self._parser

    async def _generate(self, prompts: list[list[int]]) -> list[tuple[list[int], bool]]:
        """One batch, in a worker thread so that the event loop goes on scoring."""
        seed = (self.seed * 1_000_003 + self._batches) % 2**31
        self._batches += 1
        try:
            out = await asyncio.to_thread(self.backend.generate, prompts, 1, self.spec, seed)
        except Exception as error:  # this batch's rollouts are errored (and redone on resume), not lost
            raise GenerationError(f"{type(error).__name__}: {error}") from error
        return [(list(tokens), bool(cut)) for tokens, cut in zip(out.token_ids, out.truncated, strict=True)]

    async def aclose(self) -> None:
        self._batcher.cancel()
        if self.owns_backend:
            self.backend.close()


def sampling_spec(sampling: SamplingConfig, stop_token_ids: Sequence[int]) -> Any:
    """The trainer backends' SamplingSpec for the eval's sampling settings (temperature 0: greedy)."""
    from rewardkit.trainer.generation import SamplingSpec

    return SamplingSpec(
        max_new_tokens=sampling.max_tokens,
        temperature=sampling.temperature or 1.0,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        greedy=sampling.temperature == 0,
        stop_token_ids=tuple(stop_token_ids),
        stop_strings=tuple(sampling.stop),
    )


def load_local_chat(config: EvalConfig) -> LocalChat:
    """Load `config.model` (a local directory, a cached hub id, or tiny://) with the trainer's loaders."""
    from rewardkit.trainer.config import parse_config
    from rewardkit.trainer.generation import make_backend
    from rewardkit.trainer.generation.stops import stop_token_ids
    from rewardkit.trainer.models import load_models, load_tokenizer, resolve_model_path

    backend = config.resolved_backend
    local = config.local
    train_config = parse_config(
        {
            "model": {
                "path": config.model,
                "dtype": local.dtype,
                "trust_remote_code": local.trust_remote_code,
            },
            "environments": [{"name": env.name} for env in config.environments],
            "generation": {
                "backend": backend,
                "max_new_tokens": config.sampling.max_tokens,
                "stop_strings": list(config.sampling.stop),
                "vllm": {"max_model_len": local.vllm_max_model_len},
            },
            "seed": config.sampling.seed,
        }
    )
    if backend == "vllm":
        path = resolve_model_path(train_config.model)
        model, tokenizer = None, load_tokenizer(path, train_config.model)
        generation_config = _generation_config(path)
    else:
        models = load_models(train_config.model, beta=0.0)
        model, tokenizer, path = models.policy.eval(), models.tokenizer, models.source_dir
        generation_config = getattr(model, "generation_config", None)
    engine = make_backend(train_config, model, tokenizer, path)
    return LocalChat(
        engine,
        tokenizer,
        sampling_spec(config.sampling, stop_token_ids(tokenizer, generation_config)),
        seed=config.sampling.seed,
        batch_size=local.batch_size,
        max_prompt_length=local.max_prompt_length,
        chat_template_kwargs=config.chat_template_kwargs,
        tool_format=config.episodes.tool_format,
    )


def _generation_config(path: str) -> Any:
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path)
    except OSError:  # the model ships none: the tokenizer's eos is the stop set
        return None
