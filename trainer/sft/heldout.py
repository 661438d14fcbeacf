"""The rows an SFT stage holds out: their loss, and for rows from an environment, the accuracy of replies
sampled from the model and scored by the environment (what a cold start is for)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import torch

from rewardkit.records import RolloutRecord
from rewardkit.scoring import Scorer
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.generation import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend
from rewardkit.trainer.rewards import accuracy_metrics
from rewardkit.trainer.sft.batch import collate, token_losses
from rewardkit.trainer.sft.config import SFTConfig
from rewardkit.trainer.sft.data import ChatRow, tokenize_rows
from rewardkit.types import Trajectory

PROMPTS_PER_GENERATE = 32


class HeldOut:
    def __init__(
        self,
        rows: Sequence[ChatRow],
        renderer: TurnRenderer,
        stop_ids: Collection[int],
        config: SFTConfig,
        scorer: Scorer | None,
    ) -> None:
        self.config = config
        self.tokenizer = renderer.tokenizer
        self.examples, _ = tokenize_rows(rows, renderer, stop_ids, config.max_length)
        self.scorer = scorer
        self.samples = [row.sample for row in rows if row.sample is not None] if scorer else []
        self.prompts = [renderer.prompt_ids(sample.prompt, ()) for sample in self.samples]
        eval_cfg = config.eval
        self.spec = (
            SamplingSpec(
                max_new_tokens=eval_cfg.max_new_tokens,
                temperature=eval_cfg.temperature or 1.0,
                greedy=eval_cfg.temperature == 0,
                stop_token_ids=tuple(stop_ids),
            )
            if eval_cfg is not None
            else None
        )

    def evaluate(self, model: Any, seed: int) -> tuple[dict[str, float], list[RolloutRecord]]:
        """`eval/loss` (mean over trained tokens) and, for environment rows, `eval/accuracy`: the share of
        sampled replies the environment's verdict passes (as the GRPO trainer's `reward/accuracy`). Also
        returns a few replies to print."""
        was_training = model.training
        model.eval()
        try:
            metrics = {"eval/loss": self._loss(model)}
            samples: list[RolloutRecord] = []
            if self.scorer is not None and self.spec is not None and self.samples:
                accuracy, samples = self._accuracy(model, seed)
                if accuracy is not None:
                    metrics["eval/accuracy"] = accuracy
            return metrics, samples
        finally:
            model.train(was_training)

    @torch.no_grad()
    def _loss(self, model: Any) -> float:
        size = self.config.optim.micro_batch_size or self.config.batch_size
        total, tokens = 0.0, 0
        for start in range(0, len(self.examples), size):
            batch = collate(self.examples[start : start + size], int(self.tokenizer.pad_token_id))
            total += float(token_losses(model, batch.to(model.device)))
            tokens += batch.trained_tokens
        return total / max(1, tokens)

    def _accuracy(self, model: Any, seed: int) -> tuple[float | None, list[RolloutRecord]]:
        assert self.scorer is not None
        assert self.spec is not None
        assert self.config.eval is not None
        backend = TransformersBackend(model, self.tokenizer)
        rollouts = self.config.eval.rollouts
        texts: list[str] = []
        for start in range(0, len(self.prompts), PROMPTS_PER_GENERATE):
            part = backend.generate(
                self.prompts[start : start + PROMPTS_PER_GENERATE], rollouts, self.spec, seed
            )
            texts += self.tokenizer.batch_decode(part.token_ids, skip_special_tokens=True)
        samples = [sample for sample in self.samples for _ in range(rollouts)]
        results = self.scorer.score_batch_sync(samples, texts)
        env = self.scorer.env.name
        accuracy = accuracy_metrics(results, [env] * len(results), {env: self.scorer}).get("reward/accuracy")
        shown = [
            RolloutRecord(env, sample, Trajectory.single(text, "done"), result, index % rollouts)
            for index, (sample, text, result) in enumerate(zip(samples, texts, results, strict=True))
        ]
        return accuracy, shown[:: max(1, rollouts)]

    def close(self) -> None:
        if self.scorer is not None:
            self.scorer.close()
