"""The trainer's rollout when a run has episode environments: prompts -> episodes -> samples -> advantages.

Single-turn environments in the same run are one-turn episodes. Rollouts that end in an infrastructure error
(env_error, timeout, a reward error) have no score: they are excluded from group statistics and counted, and
the run stops past `grpo.max_reward_error_rate`, exactly as single-turn errors do.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from rewardkit.episodes import EpisodeResult, EpisodeSession, ReplyParser, is_episodic, resolve_tools
from rewardkit.errors import ConfigError
from rewardkit.runtime import host_loop
from rewardkit.trainer.data import Prompt
from rewardkit.trainer.envs import EnvSlot
from rewardkit.trainer.episodes.batch import build_episode_batch, sample_advantages
from rewardkit.trainer.episodes.driver import DriverOptions, EpisodeDriver, EpisodeRollouts
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.rewards import check_errors, reward_metrics

if TYPE_CHECKING:
    from rewardkit.trainer.loop import GRPOTrainer, Rollout


def has_episodes(slots: Sequence[EnvSlot]) -> bool:
    return any(is_episodic(slot.env) for slot in slots)


class EpisodeStep:
    """Runs episodes on the host's scoring loop, with the renderer and reply parser of the trainer's model."""

    def __init__(self, trainer: GRPOTrainer) -> None:
        cfg = trainer.config
        if cfg.generation.one_step_off:
            raise ConfigError(
                "generation.one_step_off: episode environments do not overlap steps yet; set it to false"
            )
        self.options = cfg.episodes
        self.slots = {slot.key: slot for slot in trainer.slots}
        self.loop = host_loop()  # where the environments were set up: their clients live there
        self.renderer = TurnRenderer(
            trainer.tokenizer, chat_template_kwargs=self.options.chat_template_kwargs
        )
        self.parser = ReplyParser.for_tokenizer(trainer.tokenizer, self.options.tool_format)
        policy = trainer.models.policy
        max_context = getattr(getattr(policy, "config", None), "max_position_embeddings", None) or 1 << 30
        if cfg.generation.backend == "vllm" and cfg.generation.vllm.max_model_len:
            max_context = min(max_context, cfg.generation.vllm.max_model_len)
        self.driver_options = DriverOptions(
            max_tokens=self.options.max_tokens,
            max_context=int(max_context),
            overlap=self.options.overlap,
            sample_per_turn=self.options.credit == "turn",
        )

    def sessions(self, prompts: Sequence[Prompt]) -> list[EpisodeSession]:
        out = []
        for prompt in prompts:
            slot = self.slots[prompt.env]
            tools = resolve_tools(slot.env, prompt.sample)
            out.append(
                EpisodeSession(
                    slot.env,
                    prompt.sample,
                    tools,
                    rubric=slot.scorer.rubric,
                    score_timeout=slot.scorer.timeout,
                    max_turns=self.options.max_turns,
                )
            )
        return out

    def rollout(self, trainer: GRPOTrainer) -> Rollout:
        from rewardkit.trainer.loop import Rollout

        cfg, started = trainer.config, time.perf_counter()
        G = cfg.grpo.num_generations
        unique = trainer._local(trainer.source.next_batch(cfg.grpo.prompts_per_step))
        prompts = [p for p in unique for _ in range(G)]
        trainer._sync_weights()
        driver = EpisodeDriver(
            trainer.backend, trainer.tokenizer, self.renderer, self.parser, self.driver_options, self.loop
        )
        rollouts = driver.run(
            self.sessions(prompts), trainer._sampling_spec(), trainer._gen_seed(0, trainer.step)
        )
        generated = time.perf_counter()
        segments = sorted(rollouts.segments, key=lambda s: (s.episode, s.turn))
        batch = build_episode_batch(segments, int(trainer.tokenizer.pad_token_id))
        if trainer.models.reference is not None or (cfg.grpo.beta > 0 and cfg.model.lora is not None):
            batch.ref_logp = trainer._reference_logprobs(batch)
        metrics = self._advantages(trainer, batch, segments, rollouts.outcomes, prompts)
        metrics.update(_episode_metrics(rollouts, prompts, generated - started))
        metrics.update(
            {
                "time/generate": generated - started,
                "time/reference": time.perf_counter() - generated,
                "tokens_generated": float(batch.completion_mask.sum()),
                "completion/length_mean": float(batch.completion_mask.sum(-1).float().mean()),
                "completion/truncated_frac": float(batch.truncated.float().mean()),
            }
        )
        rows = [prompts[s.episode] for s in segments]
        texts = [rollouts.outcomes[s.episode].trajectory.completion for s in segments]
        results = [rollouts.outcomes[s.episode].result for s in segments]
        return Rollout(rows, texts, results, batch, metrics)

    def _advantages(
        self,
        trainer: GRPOTrainer,
        batch: Any,
        segments: Sequence[Any],
        outcomes: Sequence[EpisodeResult],
        prompts: Sequence[Prompt],
    ) -> dict[str, float]:
        grpo = trainer.config.grpo
        results = [o.result for o in outcomes]
        envs = [p.env for p in prompts]
        errors = check_errors(results, envs, grpo.max_reward_error_rate, trainer.step + 1)
        values, trainable, zero = sample_advantages(
            outcomes,
            segments,
            grpo.num_generations,
            grpo.scale_rewards,
            grpo.drop_zero_variance_groups,
            self.options.credit,
            gather=trainer._gather,
            offset=trainer._local_rows(len(outcomes)).start,
        )
        batch.advantages, batch.counted, batch.trainable = values, trainable, trainable
        if grpo.mask_truncated_completions:
            batch.trainable = batch.trainable & ~batch.truncated
        metrics = reward_metrics(results, envs)
        metrics["reward/error_count"] = float(errors)
        metrics["reward/zero_variance_frac"] = float(zero.float().mean()) if len(zero) else 0.0
        return metrics


def _episode_metrics(
    rollouts: EpisodeRollouts, prompts: Sequence[Prompt], seconds: float
) -> dict[str, float]:
    """Stop reasons per environment, turns, tool calls and the share of the rollout spent waiting on tools."""
    out: dict[str, float] = {}
    stops = Counter(
        (p.env, o.trajectory.stop_reason) for p, o in zip(prompts, rollouts.outcomes, strict=True)
    )
    for (env, reason), count in stops.items():
        out[f"episodes/{env}/stop/{reason}"] = float(count)
    outcomes = rollouts.outcomes
    out["episodes/turns_mean"] = float(torch.tensor([o.trajectory.turns for o in outcomes]).float().mean())
    out["episodes/tool_calls"] = float(sum(o.stats.tool_calls for o in outcomes))
    out["episodes/tool_errors"] = float(sum(o.stats.tool_errors for o in outcomes))
    out["episodes/malformed_tool_calls"] = float(sum(o.stats.malformed for o in outcomes))
    out["episodes/samples"] = float(len(rollouts.segments))
    out["episodes/template_splits"] = float(rollouts.splits)
    out["episodes/generate_calls"] = float(rollouts.generate_calls)
    # The share of the rollout in which nothing could be generated because every episode awaited its
    # environment: what tools cost the step after overlap.
    out["time/env_wait"] = rollouts.wait_seconds
    out["episodes/env_wait_frac"] = rollouts.wait_seconds / max(seconds, 1e-9)
    return out
