"""The GRPO loop: generate -> score (in the background) -> advantages -> clipped loss -> step -> log/save.

Read `train` top to bottom; each phase is a short method that delegates to a small module.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError, RewardkitError
from rewardkit.host import PluginHost
from rewardkit.records import RolloutRecord
from rewardkit.trainer import checkpoint as ckpt
from rewardkit.trainer.advantages import rollout_advantages
from rewardkit.trainer.config import TrainConfig, check_consistency, dump_config
from rewardkit.trainer.data import Prompt, PromptSource
from rewardkit.trainer.envs import build_slots
from rewardkit.trainer.episodes.step import EpisodeStep, has_episodes
from rewardkit.trainer.evaluation import evaluate_during_training
from rewardkit.trainer.generation import Completions, SamplingSpec, make_backend
from rewardkit.trainer.generation.one_step_off import OneStepOff
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.generation.weight_sync import PolicyWeights
from rewardkit.trainer.loss import (
    StepTotals,
    aggregate,
    clip_fractions,
    policy_loss,
    row_weights,
    tis_weights,
)
from rewardkit.trainer.models import load_models
from rewardkit.trainer.optimizer import make_optimizer
from rewardkit.trainer.process import check_process
from rewardkit.trainer.prompts import PromptEncoder
from rewardkit.trainer.reasoning import reasoning_metrics
from rewardkit.trainer.rewards import (
    PendingRewards,
    RewardRouter,
    accuracy_metrics,
    check_errors,
    reward_metrics,
)
from rewardkit.trainer.rollout import RolloutBatch, build_batch, chunked_logprobs_match, forward_logprobs
from rewardkit.trainer.tracking import Tracker
from rewardkit.types import RewardResult, Trajectory

logger = logging.getLogger(__name__)

# Summed over micro-batches and processes each step; token metrics are then divided by "tokens".
STEP_SUMS = ("loss", "tokens", "entropy", "kl", "tis_weight", "logprob_mismatch", "clip/low", "clip/high")


@dataclass
class Rollout:
    prompts: list[Prompt]  # one per completion (each prompt repeated G times)
    texts: list[str]
    results: list[RewardResult]
    batch: RolloutBatch
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Generated:
    """A rollout's completions before scoring finishes (scoring runs in the background meanwhile)."""

    prompts: list[Prompt]  # this process's unique prompts
    prompt_ids: list[list[int]]
    completions: Completions
    texts: list[str]
    pending: PendingRewards
    seconds: float  # wall time of the generation
    policy_step: int  # optimizer steps taken by the weights that generated it


@dataclass
class TrainResult:
    step: int
    run_dir: Path
    history: list[dict[str, float]]
    process_index: int = 0
    num_processes: int = 1

    @property
    def is_main_process(self) -> bool:
        return self.process_index == 0


class GRPOTrainer:
    """GRPO on the config's environments. Building one leaves torch's thread count and the process
    environment alone (see trainer/process.py: `configure_process` applies those settings)."""

    def __init__(
        self,
        config: TrainConfig,
        host: PluginHost | None = None,
        environments: Mapping[str, Environment] | None = None,
        resume: str | Path | None = None,
    ) -> None:
        self.config = config
        check_consistency(config)
        check_process(config)  # process-wide settings are the caller's: see trainer/process.py
        self.accelerator, checkpoint, state = start_run(config.seed, resume, config.model.mixed_precision)
        self.run_dir = config.run_dir
        self.models = load_models(config.model, config.grpo.beta, weights_dir=checkpoint)
        if self.models.reference is not None:  # not an accelerate-prepared module: place it ourselves
            self.models.reference.to(self.accelerator.device)
        self.tokenizer = self.models.tokenizer
        self._check_lengths()
        self.prompts = PromptEncoder(self.tokenizer, config.model, config.generation.max_prompt_length)
        # Tiled log-probs keep the [rows, tokens, vocabulary] logits out of memory, where the model allows.
        self._chunked = chunked_logprobs_match(self.models.policy, config.generation.temperature)
        self.slots = build_slots(config.environments, host, environments)
        self.source = PromptSource([(s.key, s.samples, s.weight) for s in self.slots], config.seed)
        self.router = RewardRouter({s.key: s.scorer for s in self.slots})
        self._build_optimizer()
        self.step = 0
        if checkpoint is not None and state is not None:
            self._restore(state, checkpoint)
        self.backend = make_backend(
            config,
            self._generation_model(),
            self.tokenizer,
            self.models.source_dir,
            self.accelerator.process_index,
        )
        self.episodes = EpisodeStep(self) if has_episodes(self.slots) else None  # multi-turn environments
        self.policy_weights = PolicyWeights(self._unwrapped(), self.model)
        # A server may hold any weights (an earlier run's): push before its first use.
        self._weights_stale = state is not None or config.model.lora is not None or self._server_mode
        self._ahead: OneStepOff[Generated] | None = OneStepOff() if config.generation.one_step_off else None
        self._prompt_cache: dict[tuple[str, str], list[int]] = {}
        self._truncated_prompts: set[tuple[str, str]] = set()
        self._steps_without_rewards = 0
        self._warned: set[str] = set()
        self._logged_rollout: Rollout | None = None
        self._rollout_totals: dict[str, float] = {}
        self.history: list[dict[str, float]] = []

    # -- setup -------------------------------------------------------------------------------------
    def _build_optimizer(self) -> None:
        self.optimizer, self.scheduler = make_optimizer(self.models.policy, self.config.optim)
        self.model, self.optimizer = self.accelerator.prepare(self.models.policy, self.optimizer)

    def _check_lengths(self) -> None:
        gen, limit = self.config.generation, self.models.max_positions
        if limit is not None and gen.max_prompt_length + gen.max_new_tokens > limit:
            raise ConfigError(
                f"generation.max_prompt_length ({gen.max_prompt_length}) + generation.max_new_tokens "
                f"({gen.max_new_tokens}) exceed the {limit} positions of {self.config.model.path!r}; "
                "lower one of them"
            )

    def _restore(self, state: dict[str, Any], checkpoint: Path) -> None:
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        else:  # saved sharded (FSDP / DeepSpeed): every process loads its own part
            self.accelerator.load_state(str(checkpoint / ckpt.SHARDED_STATE))
        self.scheduler.load_state_dict(state["scheduler"])
        self.source.load_state_dict(state["data"])
        self.step = int(state["step"])
        ckpt.set_rng_state(state["rng"])

    def _unwrapped(self) -> Any:
        return self.accelerator.unwrap_model(self.model)

    def _generation_model(self) -> Any:
        """The module the transformers backend calls: the unwrapped policy, except under FSDP1, whose root
        wrapper owns parameters (embeddings, final norm, head) that only its own forward gathers."""
        from torch.distributed.fsdp import FullyShardedDataParallel

        return self.model if isinstance(self.model, FullyShardedDataParallel) else self._unwrapped()

    # -- the loop ----------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        cfg = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tracker = self._tracker()
        self.router.start()
        self._last_report = time.perf_counter()
        try:
            while self.step < cfg.optim.max_steps:
                rollout = self._next_rollout()
                rollout.metrics.update(self._text_metrics(rollout))
                last_saved = self.step
                for iteration in range(cfg.grpo.num_iterations):
                    metrics = self.optimize(rollout.batch, first=iteration == 0)
                    self.step += 1
                    self._weights_stale = True
                    self._report(tracker, {**rollout.metrics, **metrics}, rollout)
                    if self.step >= cfg.optim.max_steps:
                        break
                # Saved only between rollouts: a checkpoint never needs a half-used rollout to resume.
                if (
                    cfg.checkpoint.every
                    and self.step // cfg.checkpoint.every > last_saved // cfg.checkpoint.every
                ):
                    self.save()
                evaluate_during_training(self, tracker, since=last_saved)
            if cfg.checkpoint.save_final:
                self.save()
        finally:
            tracker.close()
            self.close()
        state = self.accelerator.state
        return TrainResult(self.step, self.run_dir, self.history, state.process_index, state.num_processes)

    def rollout(self) -> Rollout:
        """Generate G completions per prompt; scoring of each chunk overlaps the next chunk's generation."""
        if self.episodes is not None:
            return self.episodes.rollout(self)
        drawn = self._draw_prompts()
        self._sync_weights()
        return self._finish_rollout(self._generate(drawn, self.step, self.step))

    def _next_rollout(self) -> Rollout:
        """The next rollout; with `generation.one_step_off`, the one after it starts generating at once
        (with the current weights) and overlaps this rollout's scoring and optimizer steps."""
        if self._ahead is None:
            return self.rollout()
        if self._ahead.future is None:  # the first rollout (or the first after a resume)
            self._generate_ahead(self.step)
        generated, waited = self._ahead.result()
        if self.step + self.config.grpo.num_iterations < self.config.optim.max_steps:
            self._generate_ahead(self.step + self.config.grpo.num_iterations)
        rollout = self._finish_rollout(generated)
        lag = self.step - generated.policy_step
        rollout.metrics.update(self._ahead.metrics(generated.seconds, waited, lag))
        return rollout

    def _generate_ahead(self, seed_step: int) -> None:
        """Draw prompts and push weights here (under sharding a push is a collective), generate in the
        background; seeds are those of the step that will train on the rollout, as without overlap."""
        assert self._ahead is not None
        self._ahead.data_state = self.source.state_dict()  # a checkpoint resumes with these prompts
        drawn = self._draw_prompts()
        self._sync_weights()
        self._ahead.start(self._generate, drawn, seed_step, self.step)

    def _draw_prompts(self) -> tuple[list[Prompt], list[list[int]]]:
        unique = self._local(self.source.next_batch(self.config.grpo.prompts_per_step))
        return unique, [self._encode(p) for p in unique]

    def _generate(
        self, drawn: tuple[list[Prompt], list[list[int]]], seed_step: int, policy_step: int
    ) -> Generated:
        """Completions of the drawn prompts with the engine's weights, each chunk queued for scoring."""
        cfg, started = self.config, time.perf_counter()
        unique, prompt_ids = drawn
        G = cfg.grpo.num_generations
        chunk = cfg.generation.chunk_prompts or len(unique)
        out = Generated(unique, prompt_ids, Completions([], [], []), [], PendingRewards(), 0.0, policy_step)
        spec = self._sampling_spec()
        for start in range(0, len(unique), chunk):
            seed = self._gen_seed(start, seed_step)
            part = self.backend.generate(prompt_ids[start : start + chunk], G, spec, seed)
            decoded = self.tokenizer.batch_decode(part.token_ids, skip_special_tokens=True)
            prompts = [p for p in unique[start : start + chunk] for _ in range(G)]
            self.router.submit(prompts, decoded, out.pending)
            out.completions.extend(part)
            out.texts += decoded
        out.seconds = time.perf_counter() - started
        return out

    def _finish_rollout(self, generated: Generated) -> Rollout:
        """Batch, reference log-probs (while the environments score), rewards and advantages."""
        cfg, started = self.config, time.perf_counter()
        G = cfg.grpo.num_generations
        pad = int(self.tokenizer.pad_token_id)
        batch = build_batch(generated.prompt_ids, generated.completions, G, pad)
        if self.models.reference is not None or (cfg.grpo.beta > 0 and cfg.model.lora is not None):
            batch.ref_logp = self._reference_logprobs(batch)  # runs while the environments score
        ref_done = time.perf_counter()
        results = self.router.collect(generated.pending)
        scored = time.perf_counter()
        prompts = [p for p in generated.prompts for _ in range(G)]
        metrics = self._score_batch(batch, results, prompts)
        metrics.update(_completion_metrics(batch))
        metrics.update(
            {
                "time/generate": generated.seconds,
                "time/reference": ref_done - started,
                "time/reward_wait": scored - ref_done,
                "reward/overlap": self.router.times.overlap,
                "tokens_generated": float(batch.completion_mask.sum()),
            }
        )
        return Rollout(prompts, generated.texts, results, batch, metrics)

    def _text_metrics(self, rollout: Rollout) -> dict[str, float]:
        """Accuracy per environment, and the reasoning signals of the completions (trainer.reasoning), over
        every process's completions."""
        envs = self._gather_objects([p.env for p in rollout.prompts])
        results = self._gather_objects(rollout.results)
        texts = self._gather_objects(rollout.texts)
        lengths = self._gather_objects(rollout.batch.completion_mask.sum(-1).tolist())
        metrics = accuracy_metrics(results, envs, {s.key: s.scorer for s in self.slots})
        metrics.update(reasoning_metrics(texts, envs, lengths, self.config.logging.reasoning))
        return metrics

    def _score_batch(self, batch: RolloutBatch, results: list[RewardResult], prompts: list[Prompt]) -> dict:
        """Advantages and reward metrics over every process's outcomes; this process keeps its rows."""
        grpo = self.config.grpo
        envs = self._gather_objects([p.env for p in prompts])
        everything = self._gather_objects(results)
        errors = check_errors(everything, envs, grpo.max_reward_error_rate, self.step + 1)
        self._check_rewards_present(everything, envs)
        adv = rollout_advantages(
            everything,
            envs,
            grpo.num_generations,
            grpo.scale_rewards,
            grpo.multi_objective_aggregation,
            grpo.drop_zero_variance_groups,
            {s.key: s.scorer.rubric.weights if s.scorer.rubric else {} for s in self.slots},
        )
        local = self._local_rows(len(results))
        batch.advantages, batch.counted = adv.values[local], adv.trainable[local]
        batch.trainable = batch.counted
        if grpo.mask_truncated_completions:
            batch.trainable = batch.trainable & ~batch.truncated
        metrics = reward_metrics(everything, envs)
        metrics["reward/error_count"] = float(errors)
        metrics["reward/zero_variance_frac"] = float(adv.zero_variance.float().mean())
        metrics["prompt/truncated_frac"] = self._truncated_prompt_share(prompts)
        return metrics

    def _check_rewards_present(self, results: list[RewardResult], envs: list[str]) -> None:
        """Steps in which no completion got a reward change nothing; a run of them is a broken setup."""
        limit = self.config.grpo.max_steps_without_rewards
        if any(r.score is not None for r in results):
            self._steps_without_rewards = 0
            return
        self._steps_without_rewards += 1
        names = ", ".join(sorted(set(envs)))
        if self.accelerator.is_main_process:
            logger.warning("step %d: no completion got a reward (%s); nothing trains", self.step + 1, names)
        if limit is not None and self._steps_without_rewards >= limit:
            raise RewardkitError(
                f"step {self.step + 1}: {self._steps_without_rewards} steps in a row without a single reward "
                f"from {names} (every outcome was None or an error), so nothing trains. Check that the "
                "environments apply to their samples, or raise grpo.max_steps_without_rewards."
            )

    def _truncated_prompt_share(self, prompts: list[Prompt]) -> float:
        cut = [(p.env, p.sample.id) in self._truncated_prompts for p in prompts]
        totals = self._gather(torch.tensor([[sum(cut), len(cut)]], dtype=torch.float64)).sum(0)
        return float(totals[0] / max(1.0, float(totals[1])))

    def optimize(self, batch: RolloutBatch, first: bool) -> dict[str, float]:
        """One optimizer step over the rollout: gradients in micro-batches, then the update."""
        started = time.perf_counter()
        out = self.accumulate_gradients(batch, first)
        out["grad_norm"] = self._apply_gradients()
        out["lr"] = self.scheduler.get_last_lr()[0]
        out["time/train"] = time.perf_counter() - started
        return out

    def accumulate_gradients(self, batch: RolloutBatch, first: bool) -> dict[str, float]:
        """Forward and backward over the rollout in micro-batches, leaving the step's gradient on the
        parameters; returns the step's loss and token metrics over every process."""
        cfg = self.config
        assert batch.advantages is not None
        weights = self._row_weights(batch)
        active = self._rows_with_gradient(batch)
        size = cfg.optim.micro_batch_size or len(active)
        slices = [active[i : i + size] for i in range(0, len(active), size)]
        if first and cfg.grpo.num_iterations > 1:
            batch.old_logp = torch.zeros_like(batch.sampling_logp)
        sums = dict.fromkeys(STEP_SUMS, 0.0)
        for index, rows in enumerate(slices):
            last = index == len(slices) - 1
            with self.accelerator.no_sync(self.model) if not last else contextlib.nullcontext():
                part = self._micro_step(batch, rows, first, weights[rows])
            for key, value in part.items():
                sums[key] += value
        return self._step_metrics(sums, active=len(active), rows=len(batch))

    def _row_weights(self, batch: RolloutBatch) -> torch.Tensor:
        """Each row's weight in the step loss (see loss.row_weights), from totals over every process."""
        cfg = self.config
        assert batch.trainable is not None
        assert batch.counted is not None
        loss_mask = batch.completion_mask & batch.trainable.unsqueeze(-1)
        local = [len(batch), float(batch.counted.sum()), float(loss_mask.sum())]
        rows, counted, tokens = self._gather(torch.tensor([local], dtype=torch.float64)).sum(0).tolist()
        size = cfg.optim.micro_batch_size or len(batch)
        micro_batches = math.ceil(len(batch) / size) * self.accelerator.num_processes
        totals = StepTotals(int(rows), int(counted), int(tokens), micro_batches)
        return row_weights(cfg.grpo.loss_type, loss_mask, totals, cfg.generation.max_new_tokens, size)

    def _rows_with_gradient(self, batch: RolloutBatch) -> torch.Tensor:
        """Rows whose loss has a non-zero gradient; the others are not run at all.

        A row outside the loss mask, or (with beta == 0) with advantage 0 (every member of a zero-variance
        group), has loss exactly 0, so skipping it changes no gradient: the normalisers are computed over
        the whole batch beforehand. One row always runs so that every process takes part in the gradient
        all-reduce and every parameter gets a (zero) gradient, exactly as if the whole batch had run.
        """
        assert batch.advantages is not None
        assert batch.trainable is not None
        signal = batch.trainable & (batch.advantages != 0) if self.config.grpo.beta == 0 else batch.trainable
        active = torch.nonzero(signal).flatten()
        return active if len(active) else torch.arange(1)

    def _micro_step(
        self, batch: RolloutBatch, rows: torch.Tensor, first: bool, weights: torch.Tensor
    ) -> dict[str, float]:
        grpo, cfg = self.config.grpo, self.config
        spec = grpo.loss_spec
        mb = batch.rows(rows).to(self.accelerator.device)
        temperature, share = cfg.generation.temperature, cfg.share_prompt_prefix
        with self.accelerator.autocast():
            logp, ent = forward_logprobs(
                self.model, mb, temperature, with_entropy=True, share_prefix=share, chunked=self._chunked
            )
        if first:
            old = logp.detach()  # the weights have not moved yet in this rollout: no extra forward pass
            if batch.old_logp is not None:
                batch.old_logp[rows, : old.shape[1]] = old.to(batch.old_logp.device)
        else:
            assert mb.old_logp is not None
            old = mb.old_logp
        is_w = tis_weights(old, mb.sampling_logp, grpo.tis_cap) if grpo.tis_cap else None
        assert mb.advantages is not None
        assert mb.trainable is not None
        mask = mb.completion_mask & mb.trainable.unsqueeze(-1)
        out = policy_loss(logp, old, mb.advantages, mask, spec, mb.ref_logp, is_w)
        loss = aggregate(out.per_token, mask, weights.to(logp.device))
        # DDP averages gradients over processes; the row weights already divide by the global totals.
        self.accelerator.backward(loss * self.accelerator.num_processes)
        stats = {"loss": float(loss.detach()), "tokens": float(mask.sum())}
        stats["entropy"] = float((ent * mask).sum()) if ent is not None else 0.0
        if out.kl is not None:
            stats["kl"] = float((out.kl * mask).sum())
        if is_w is not None:
            stats["tis_weight"] = float((is_w * mask).sum())
        # Generator vs trainer log-probs: 0 up to numerics while the engine's weights are in sync.
        stats["logprob_mismatch"] = float(((old - mb.sampling_logp).abs() * mask).sum())
        fractions = clip_fractions(out.ratio, mb.advantages, mask, spec)
        stats["clip/low"], stats["clip/high"] = float(fractions["clip/low"]), float(fractions["clip/high"])
        return stats

    def _step_metrics(self, sums: dict[str, float], active: int, rows: int) -> dict[str, float]:
        """The step's sums over every process: the loss, and token means of the other metrics."""
        local = torch.tensor([[sums[key] for key in STEP_SUMS] + [active, rows]], dtype=torch.float64)
        total = dict(zip((*STEP_SUMS, "active", "rows"), self._gather(local).sum(0).tolist(), strict=True))
        tokens = max(1.0, total["tokens"])
        out = {key: total[key] / tokens for key in STEP_SUMS if key not in ("loss", "tokens")}
        out["clip/region"] = out["clip/low"] + out["clip/high"]
        if self.config.grpo.beta == 0:
            del out["kl"]
        if not self.config.grpo.tis_cap:
            del out["tis_weight"]
        out["loss"] = total["loss"]
        out["train/active_frac"] = total["active"] / max(1.0, total["rows"])
        return out

    def _apply_gradients(self) -> float:
        max_norm = self.config.optim.max_grad_norm
        params = [p for p in self.model.parameters() if p.requires_grad]
        norm = self.accelerator.clip_grad_norm_(params, max_norm if max_norm else float("inf"))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    # -- pieces ------------------------------------------------------------------------------------
    def _encode(self, prompt: Prompt) -> list[int]:
        key = (prompt.env, prompt.sample.id)
        if key not in self._prompt_cache:
            encoded = self.prompts.encode(prompt.sample.prompt)
            if encoded.truncated:
                self._truncated_prompts.add(key)
                self._warn_once(
                    "prompt",
                    f"prompt {prompt.env}/{prompt.sample.id} has {encoded.full_length} tokens; only its last "
                    f"generation.max_prompt_length={len(encoded.ids)} are used (prompt/truncated_frac counts "
                    "such prompts)",
                )
            self._prompt_cache[key] = encoded.ids
        return self._prompt_cache[key]

    def _sampling_spec(self) -> SamplingSpec:
        gen = self.config.generation
        model_config = getattr(self._unwrapped(), "generation_config", None)
        stops = stop_token_ids(self.tokenizer, model_config, gen.stop_token_ids)
        return SamplingSpec(
            gen.max_new_tokens,
            gen.temperature,
            gen.top_p,
            gen.top_k,
            stop_token_ids=tuple(stops),
            stop_strings=tuple(gen.stop_strings),
        )

    def _gen_seed(self, offset: int, step: int) -> int:
        # A function of (seed, step, rank, chunk): a resumed run draws the same completions.
        rank = self.accelerator.process_index
        return (self.config.seed * 1_000_003 + step * 7919 + rank * 104_729 + offset) % 2**31

    def _sync_weights(self) -> None:
        # Pushed before the engine is next used, i.e. once after each optimizer step that precedes a rollout.
        if self._weights_stale and self.backend.name != "transformers":
            if self._ahead is not None:
                self._ahead.wait()  # never change the weights under a rollout generating ahead
            self.backend.sync_weights(self.policy_weights)
        self._weights_stale = False

    @property
    def _server_mode(self) -> bool:
        gen = self.config.generation
        return gen.backend == "vllm" and gen.vllm.mode == "server"

    def _data_state(self) -> dict[str, Any]:
        """The data position a checkpoint resumes from: before a rollout generated ahead, if one is."""
        if self._ahead is not None and self._ahead.future is not None:
            return self._ahead.data_state
        return self.source.state_dict()

    @torch.no_grad()
    def _reference_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        temperature, share = self.config.generation.temperature, self.config.share_prompt_prefix
        on_device = batch.to(self.accelerator.device)
        options = {"share_prefix": share, "chunked": self._chunked}
        with self.accelerator.autocast():  # computed as the policy's log-probs are
            if self.models.reference is not None:
                logp = forward_logprobs(self.models.reference, on_device, temperature, **options)[0]
            else:
                policy = self._unwrapped()
                with policy.disable_adapter():  # LoRA: the base model without the adapter is the reference
                    logp = forward_logprobs(policy, on_device, temperature, **options)[0]
        return logp.cpu()

    def _local(self, prompts: list[Prompt]) -> list[Prompt]:
        """This process's share of the step's prompts (all processes draw the same global batch)."""
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        if len(prompts) % world:
            raise ValueError(f"grpo.prompts_per_step={len(prompts)} must be divisible by {world} processes")
        share = len(prompts) // world
        return prompts[rank * share : (rank + 1) * share]

    def _local_rows(self, count: int) -> slice:
        rank = self.accelerator.process_index
        return slice(rank * count, (rank + 1) * count)

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.accelerator.num_processes == 1:
            return tensor
        # NCCL gathers device tensors only; the bookkeeping that uses the result stays on the CPU.
        return self.accelerator.gather(tensor.to(self.accelerator.device)).cpu()

    def _gather_objects(self, items: list[Any]) -> list[Any]:
        """Every process's `items`, concatenated in process order (the order of the global batch)."""
        return items if self.accelerator.num_processes == 1 else gather_object(items)

    def _warn_once(self, topic: str, message: str) -> None:
        if topic not in self._warned and self.accelerator.is_main_process:
            self._warned.add(topic)
            logger.warning(message)

    # -- reporting and saving ----------------------------------------------------------------------
    def _tracker(self) -> Tracker:
        cfg = self.config
        enabled = self.accelerator.is_main_process
        logging = cfg.logging if enabled else cfg.logging.model_copy(update={"progress": False})
        return Tracker(self.run_dir, logging, cfg.optim.max_steps, self.step, cfg.model_dump(mode="json"))

    def _report(self, tracker: Tracker, metrics: dict[str, float], rollout: Rollout) -> None:
        now = time.perf_counter()
        step_time = now - self._last_report  # wall clock of the whole step, bookkeeping included
        self._last_report = now
        new_rollout = rollout is not self._logged_rollout
        self._logged_rollout = rollout
        if new_rollout:
            self._rollout_totals = self._completion_totals(rollout.batch)
        metrics.update(self._rollout_totals)
        metrics["time/step"] = step_time
        metrics["tokens_per_s"] = metrics.get("tokens_generated", 0.0) / max(step_time, 1e-9)
        self.history.append({"step": self.step, **metrics})
        records = self._gather_objects(self._records(rollout)) if new_rollout else []
        if not self.accelerator.is_main_process:
            return
        if metrics["completion/truncated_frac"] > 0.5:
            self._warn_once(
                "length",
                f"step {self.step}: {metrics['completion/truncated_frac']:.0%} of the completions hit "
                f"generation.max_new_tokens={self.config.generation.max_new_tokens}; consider raising it",
            )
        if self.step % self.config.logging.every == 0:
            tracker.log(self.step, metrics)
        tracker.advance(self.step, metrics)
        tracker.rollout_records(records)
        every = self.config.logging.samples_every
        if every and self.step % every == 0 and records:
            tracker.samples_table(self.step, records)

    def _completion_totals(self, batch: RolloutBatch) -> dict[str, float]:
        """Completion lengths and truncation over every process's rows."""
        lengths = batch.completion_mask.sum(-1).double()
        both = self._gather(torch.stack([lengths, batch.truncated.double()], dim=1))
        lengths, truncated = both[:, 0], both[:, 1]
        return {
            "tokens_generated": float(lengths.sum()),
            "completion/length_mean": float(lengths.mean()),
            "completion/length_min": float(lengths.min()),
            "completion/length_max": float(lengths.max()),
            "completion/truncated_frac": float(truncated.mean()),
        }

    def _records(self, rollout: Rollout) -> list[RolloutRecord]:
        """This process's completions as rollout records (rollouts.jsonl, sample tables)."""
        G, batch = self.config.grpo.num_generations, rollout.batch
        lengths = batch.completion_mask.sum(-1).tolist()
        prompt_lengths = batch.attention_mask[:, : batch.prompt_width].sum(-1).tolist()
        return [
            RolloutRecord(
                env=prompt.env,
                sample=prompt.sample,
                trajectory=Trajectory.single(text, "length" if truncated else "done"),
                result=result,
                rollout=index % G,
                tokens={"prompt": int(prompt_lengths[index]), "completion": int(lengths[index])},
                step=self.step,
            )
            for index, (prompt, text, result, truncated) in enumerate(
                zip(rollout.prompts, rollout.texts, rollout.results, batch.truncated.tolist(), strict=True)
            )
        ]

    def save(self) -> Path | None:
        """A checkpoint: Hugging Face weights plus the trainer state. Under FSDP / DeepSpeed the weights
        are gathered and the sharded optimizer is saved by accelerate (every process takes part)."""
        acc = self.accelerator
        acc.wait_for_everyone()
        sharded = ckpt.is_sharded(acc)
        weights = acc.get_state_dict(self.model) if sharded else None
        tmp = ckpt.staging_dir(self.run_dir, self.step)
        if acc.is_main_process:
            ckpt.prepare_staging(tmp)
        acc.wait_for_everyone()
        if sharded:
            acc.save_state(str(tmp / ckpt.SHARDED_STATE))
        path = None
        if acc.is_main_process:
            state = {"scheduler": self.scheduler.state_dict(), "data": self._data_state()}
            if not sharded:
                state["optimizer"] = self.optimizer.state_dict()
            config_yaml, model = dump_config(self.config), self._unwrapped()
            path = ckpt.save_checkpoint(
                self.run_dir, self.step, model, self.tokenizer, state, config_yaml, weights
            )
            ckpt.prune(self.run_dir, self.config.checkpoint.keep_last)
        acc.wait_for_everyone()
        return path

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
        self.router.close()
        self.backend.close()


def _completion_metrics(batch: RolloutBatch) -> dict[str, float]:
    lengths = batch.completion_mask.sum(-1).float()
    return {
        "completion/length_mean": float(lengths.mean()),
        "completion/length_min": float(lengths.min()),
        "completion/length_max": float(lengths.max()),
        "completion/truncated_frac": float(batch.truncated.float().mean()),
    }


def start_run(
    seed: int, resume: str | Path | None, mixed_precision: str | None
) -> tuple[Accelerator, Path | None, dict[str, Any] | None]:
    """What every training stage does first: seeds, accelerate, and the checkpoint to resume from (with
    its trainer state) when there is one."""
    _seed_everything(seed)
    # None leaves the precision to `accelerate launch`'s config (ACCELERATE_MIXED_PRECISION), else "no".
    accelerator = Accelerator(cpu=_cpu_processes(), mixed_precision=mixed_precision)
    checkpoint = ckpt.find_checkpoint(resume) if resume else None
    return accelerator, checkpoint, ckpt.load_state(checkpoint) if checkpoint else None


def _cpu_processes() -> bool:
    """True for a multi-process run without GPUs: accelerate then uses its gloo CPU backend.

    accelerate only selects that backend when told `cpu=True`; `accelerate launch --cpu` itself starts
    one process unless MPI is set up, so CPU runs launch like GPU ones (configs/accelerate/ddp-cpu.yaml).
    """
    return not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
