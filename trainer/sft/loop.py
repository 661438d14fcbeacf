"""Supervised fine-tuning on chat rows, with the GRPO trainer's model loading, optimizer, accelerate
set-up, checkpoints and logging: token cross-entropy on the assistant's tokens only.

Read `train` top to bottom. A step takes `batch_size` examples (an epoch is a seeded permutation, so a
resumed run continues with the very next batch), runs them in micro-batches, and normalises the loss by
the step's trained tokens over every process.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.host import PluginHost
from rewardkit.trainer import checkpoint as ckpt
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.loop import TrainResult, start_run
from rewardkit.trainer.models import load_models
from rewardkit.trainer.optimizer import make_optimizer
from rewardkit.trainer.process import check_threads
from rewardkit.trainer.sft.batch import collate, token_losses
from rewardkit.trainer.sft.config import SFTConfig
from rewardkit.trainer.sft.data import EpochOrder, batches, hold_out, read_rows, tokenize_rows
from rewardkit.trainer.sft.heldout import HeldOut
from rewardkit.trainer.tracking import Tracker

SFT_STATUS = (
    ("loss", "loss", ".4f"),
    ("eval/accuracy", "held-out acc", ".3f"),
    ("tokens_per_s", "tok/s", ",.0f"),
)


class SFTTrainer:
    def __init__(
        self,
        config: SFTConfig,
        host: PluginHost | None = None,
        environments: Mapping[str, Environment] | None = None,
        resume: str | Path | None = None,
    ) -> None:
        self.config = config
        check_threads(config.threads)  # process-wide settings are the caller's: see trainer/process.py
        self.accelerator, checkpoint, state = start_run(config.seed, resume, config.model.mixed_precision)
        self.run_dir = config.run_dir
        self.models = load_models(config.model, beta=0.0, weights_dir=checkpoint)
        self.tokenizer = self.models.tokenizer
        self.pad_id = int(self.tokenizer.pad_token_id)
        self._prepare_data(host, environments)
        optimizer, self.scheduler = make_optimizer(self.models.policy, config.optim)
        self.model, self.optimizer = self.accelerator.prepare(self.models.policy, optimizer)
        self.step, self.stopped = 0, False
        if state is not None:
            self._restore(state)
        self.history: list[dict[str, float]] = []

    def _prepare_data(self, host: PluginHost | None, environments: Mapping[str, Environment] | None) -> None:
        config = self.config
        rows, scorer = read_rows(config.data, host, environments)
        train_rows, held_rows = hold_out(rows, config.data.eval_rows, config.seed)
        stops = stop_token_ids(self.tokenizer, getattr(self.models.policy, "generation_config", None))
        self.renderer = TurnRenderer(self.tokenizer)
        self.examples, self.dropped = tokenize_rows(train_rows, self.renderer, stops, config.max_length)
        if not self.examples:
            raise ConfigError(
                f"data: no row has an assistant token within max_length={config.max_length}; raise max_length"
            )
        self.order = EpochOrder(len(self.examples), config.seed)
        self.held_out = HeldOut(held_rows, self.renderer, stops, config, scorer) if held_rows else None

    def _restore(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.order.load_state_dict(state["data"])
        self.step, self.stopped = int(state["step"]), bool(state.get("stopped", False))
        ckpt.set_rng_state(state["rng"])

    # -- the loop ----------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        cfg = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        run_config = cfg.model_dump(mode="json")
        tracker = Tracker(
            self.run_dir, cfg.logging, cfg.optim.max_steps, self.step, run_config, "SFT", SFT_STATUS
        )
        if self.dropped and self.accelerator.is_main_process:
            tracker.console.print(
                f"[yellow]data: {self.dropped} examples have no assistant token within "
                f"max_length={cfg.max_length} and are left out; raise max_length to train on them"
            )
        self._last_report = time.perf_counter()
        try:
            while self.step < cfg.optim.max_steps and not self.stopped:
                metrics = self.optimize(self.order.next_batch(self._local_batch()))
                self.step += 1
                metrics.update(self._evaluate(tracker))
                self._report(tracker, metrics)
                if cfg.checkpoint.every and self.step % cfg.checkpoint.every == 0:
                    self.save()
            if cfg.checkpoint.save_final:
                self.save()
        finally:
            tracker.close()
            if self.held_out is not None:
                self.held_out.close()
        state = self.accelerator.state
        return TrainResult(self.step, self.run_dir, self.history, state.process_index, state.num_processes)

    def _local_batch(self) -> int:
        """This process's rows of the step (every process draws the same order and takes its share)."""
        world = self.accelerator.num_processes
        if self.config.batch_size % world:
            raise ConfigError(f"batch_size={self.config.batch_size} must be divisible by {world} processes")
        return self.config.batch_size

    def optimize(self, indices: list[int]) -> dict[str, float]:
        """One optimizer step: the mean token loss over the step's examples, in micro-batches."""
        cfg, started = self.config, time.perf_counter()
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        share = len(indices) // world
        mine = indices[rank * share : (rank + 1) * share]
        size = cfg.optim.micro_batch_size or len(mine)
        parts = [collate(chunk, self.pad_id) for chunk in batches(self.examples, mine, size)]
        local = torch.tensor(
            [[sum(p.trained_tokens for p in parts), sum(int(p.attention_mask.sum()) for p in parts)]]
        )
        trained, seen = self._gather(local).sum(0).tolist()
        total = 0.0
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            with self.accelerator.no_sync(self.model) if not last else contextlib.nullcontext():
                loss = token_losses(self.model, part.to(self.accelerator.device)) / max(1, trained)
                # DDP averages gradients over processes; the loss already divides by the global count.
                self.accelerator.backward(loss * world)
            total += float(loss.detach())
        max_norm = cfg.optim.max_grad_norm
        grad_norm = self.accelerator.clip_grad_norm_(self.model.parameters(), max_norm or math.inf)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = float(self._gather(torch.tensor([[total]])).sum())
        return {
            "loss": loss_sum,
            "grad_norm": float(grad_norm),
            "lr": self.scheduler.get_last_lr()[0],
            "tokens_trained": trained,
            "tokens_seen": seen,
            "epoch": self.order.epoch + self.order.position / self.order.size,
            "time/train": time.perf_counter() - started,
        }

    def _evaluate(self, tracker: Tracker) -> dict[str, float]:
        """Held-out metrics every `eval.every` steps and after the last; may end the stage (`stop_at`)."""
        cfg, held = self.config.eval, self.held_out
        if (
            cfg is None
            or held is None
            or not (self.step % cfg.every == 0 or self.step == self.config.optim.max_steps)
        ):
            return {}
        model = self.accelerator.unwrap_model(self.model)
        metrics, samples = held.evaluate(model, seed=self.config.seed * 7919 + self.step)
        every = self.config.logging.samples_every
        if self.accelerator.is_main_process and every and self.step % every == 0:
            tracker.samples_table(self.step, samples)
        accuracy = metrics.get("eval/accuracy")
        if cfg.stop_at is not None and accuracy is not None and accuracy >= cfg.stop_at:
            self.stopped = True
        return metrics

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return tensor
        return self.accelerator.gather(tensor.to(self.accelerator.device)).cpu()

    # -- reporting and saving ----------------------------------------------------------------------
    def _report(self, tracker: Tracker, metrics: dict[str, float]) -> None:
        now = time.perf_counter()
        metrics["time/step"] = now - self._last_report
        metrics["tokens_per_s"] = metrics["tokens_seen"] / max(metrics["time/step"], 1e-9)
        self._last_report = now
        self.history.append({"step": self.step, **metrics})
        if not self.accelerator.is_main_process:
            return
        if self.step % self.config.logging.every == 0 or "eval/loss" in metrics:
            tracker.log(self.step, metrics)
        tracker.advance(self.step, metrics)

    def save(self) -> Path | None:
        self.accelerator.wait_for_everyone()
        if not self.accelerator.is_main_process:
            return None
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "data": self.order.state_dict(),
            "stopped": self.stopped,
        }
        config_yaml = yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False)
        model = self.accelerator.unwrap_model(self.model)
        ckpt.prepare_staging(ckpt.staging_dir(self.run_dir, self.step))
        path = ckpt.save_checkpoint(self.run_dir, self.step, model, self.tokenizer, state, config_yaml)
        ckpt.prune(self.run_dir, self.config.checkpoint.keep_last)
        return path
