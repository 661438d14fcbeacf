"""NeMo RL: a rewardkit environment as NeMo RL's `EnvironmentInterface`, the Ray actor its rollouts step.

NeMo RL makes an environment from a registered actor class and its config section
(`register_env(name, "rewardkit.adapters.nemo_rl.NemoRLEnvironmentActor")`, then `create_env`:
`actor_class.options(runtime_env=...).remote(config)`), calls `step.remote(message_log_batch, metadata)`
with each rollout's messages and its datum's `extra_env_info`, and `global_post_process_and_metrics.remote(
batch)` and `shutdown.remote()`. The config: `{"env": NAME, "config": {...}, "rubric": {...},
"score_timeout": SECONDS}`.

A datum's `extra_env_info` holds its sample's fields (`answer`, `info`, `id`), or a whole serialized sample
under `rewardkit_sample` (`to_verl_rows` writes the same); NeMo RL's math convention, `ground_truth`, is read
as the answer. Every step ends its episode with the verdict as the reward. NeMo RL has no "does not apply" or
"error" reward: both are 0.0, each outcome is kept under `rewardkit` in the metadata the step returns, and
the metrics count them (`rewardkit/ENV/error_rate`, `rewardkit/ENV/skip_rate`).

Episode environments are refused: NeMo RL's `step` gets only the messages and metadata, so an episode's
live state (its sandbox, its game) would have to stay in the actor between calls, and no call tells the
actor that NeMo RL ended an episode early (turn or length limits), so that state could never be closed.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import Field, ValidationError

from rewardkit.adapters.common import SAMPLE_COLUMN, AdapterSpec, sample_of
from rewardkit.adapters.openrlhf import extra_logs
from rewardkit.config import StrictModel
from rewardkit.episodes import is_episodic
from rewardkit.errors import ConfigError, config_error
from rewardkit.evaluation.metrics import parsed_answer
from rewardkit.types import Message, RewardResult, Sample

ACTOR_CONCURRENCY = 16  # steps of concurrent rollout batches (async GRPO) scored at once


class NemoRLConfig(StrictModel):
    env: str = Field(description="an installed environment (see `rewardkit envs`)")
    config: dict[str, Any] = Field(default_factory=dict, description="the environment's config")
    rubric: dict[str, float | dict[str, Any]] | None = Field(
        None, description="reward weights, e.g. {math: 1.0, format.think_answer: 0.2}"
    )
    score_timeout: float | None = Field(None, gt=0.0, description="per-sample deadline in seconds")


class EnvironmentReturn(NamedTuple):
    """NeMo RL's `EnvironmentReturn`, field for field (NeMo RL unpacks it by position)."""

    observations: list[dict[str, str]]
    metadata: list[Any]
    next_stop_strings: list[list[str] | None] | list[None]
    rewards: Any  # torch.Tensor [B]
    terminateds: Any  # torch.Tensor [B]
    answers: list[str | None] | None


class NemoRLEnvironment:
    """The actor's class: one environment and its Scorer, built where the actor runs."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        try:
            settings = NemoRLConfig.model_validate(dict(config))
        except ValidationError as error:
            raise config_error(error, NemoRLConfig) from None
        scorer = AdapterSpec(settings.env, settings.config, settings.rubric, settings.score_timeout).build()
        if is_episodic(scorer.env):
            raise ConfigError(
                f"env: {settings.env} is an episode environment, which NeMo RL's step cannot drive (see "
                "docs/integrations.md, NeMo RL); train it with `rewardkit train` instead"
            )
        self.scorer = scorer.start()  # its setup fails here, when NeMo RL creates the actor
        self.name = settings.env
        self._since_metrics: list[RewardResult] = []
        self._lock = threading.Lock()

    def step(
        self, message_log_batch: Sequence[Sequence[Message]], metadata: Sequence[Any]
    ) -> EnvironmentReturn:
        """Score each rollout's last reply; every episode ends here."""
        import torch

        if len(message_log_batch) != len(metadata):
            raise ValueError(f"{len(message_log_batch)} message logs but {len(metadata)} metadata entries")
        rows = enumerate(zip(message_log_batch, metadata, strict=True))
        samples = [self._sample(log, info, i) for i, (log, info) in rows]
        results = self.scorer.score_batch_sync(samples, [_last_reply(log) for log in message_log_batch])
        with self._lock:
            self._since_metrics.extend(results)
        scores = [0.0 if r.score is None else r.score for r in results]
        pairs = zip(metadata, results, strict=True)
        kept = [{**dict(info or {}), "rewardkit": r.to_dict()} for info, r in pairs]
        return EnvironmentReturn(
            observations=[{"role": "environment", "content": _observation(r)} for r in results],
            metadata=kept,
            next_stop_strings=[None] * len(results),
            rewards=torch.tensor(scores, dtype=torch.float32),
            terminateds=torch.ones(len(results), dtype=torch.bool),
            answers=[_answer(r) for r in results],
        )

    def global_post_process_and_metrics(self, batch: Any) -> tuple[Any, dict[str, float]]:
        """The batch as it is, and metrics: the mean reward (of properly ended rollouts where NeMo RL says
        which), and the error and skip rates and component means of every outcome since the last call."""
        with self._lock:
            results, self._since_metrics = self._since_metrics, []
        metrics = extra_logs(self.name, results) if results else {}
        if results:
            metrics[f"rewardkit/{self.name}/skip_rate"] = sum(r.skipped for r in results) / len(results)
        if "rewards" in batch:
            rewards = batch["rewards"].float()
            if "is_end" in batch:
                rewards = rewards * batch["is_end"].float()
            metrics["reward_mean"] = rewards.mean().item() if rewards.numel() else 0.0
        return batch, metrics

    def shutdown(self) -> None:
        self.scorer.close()

    def _sample(self, log: Sequence[Message], info: Any, index: int) -> Sample:
        fields = dict(info or {})
        if fields.get(SAMPLE_COLUMN):
            sample = sample_of(None, fields)
        else:
            answer = fields["answer"] if "answer" in fields else fields.get("ground_truth")
            prompt = [dict(m) for m in _before_first_reply(log)]
            sample = sample_of(answer, fields.get("info"), str(fields.get("id", index)), prompt)
        problem = self.scorer.env.sample_format.problem(sample)
        if problem is not None:
            raise ValueError(
                f"metadata[{index}]: a {self.name} sample {problem}; put the sample's fields in the datum's "
                f"extra_env_info ({', '.join(self.scorer.env.sample_format.paths)}) or a serialized sample "
                f"under {SAMPLE_COLUMN!r}"
            )
        return sample


def _before_first_reply(log: Sequence[Message]) -> list[Message]:
    replies = [i for i, message in enumerate(log) if message.get("role") == "assistant"]
    return list(log[: replies[0]] if replies else log)


def _last_reply(log: Sequence[Message]) -> str:
    for message in reversed(log):
        if message.get("role") == "assistant":
            return str(message.get("content") or "")
    return ""


def _observation(result: RewardResult) -> str:
    if result.error is not None:
        return f"Environment: error ({result.error})"
    return "Environment: not scored" if result.score is None else f"Environment: reward {result.score:g}"


def _answer(result: RewardResult) -> str | None:
    """The parsed answer, for NeMo RL's majority-vote metrics."""
    _, answer = parsed_answer(result.info)
    return None if answer is None else str(answer)


@functools.cache
def _actor_class() -> Any:
    import ray

    remote: Any = ray.remote  # its typed overloads do not list the actor options it documents
    return remote(max_concurrency=ACTOR_CONCURRENCY)(NemoRLEnvironment)


def __getattr__(name: str) -> Any:
    # The Ray actor class NeMo RL's registry names; made on first use, so importing this module needs no Ray.
    if name == "NemoRLEnvironmentActor":
        return _actor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
