"""The `judge.score` reward: an LLM-judge verdict usable in any environment's rubric.

    rubric:
      math.accuracy: 1.0
      judge.score: {weight: 0.5, template: rubric, backend: {kind: openai, model: my-judge}}

Its params are the judge settings (see config.JudgeSettings). One Judge (client, cache, batcher) is kept per
distinct settings, so every call with the same params shares connections, cache and batching.
"""

from __future__ import annotations

import json
from typing import Any

from rewardkit.deadline import queued
from rewardkit.environment import Environment
from rewardkit.plugins.judge.config import JudgeSettings
from rewardkit.plugins.judge.judge import Judge
from rewardkit.singleton import process_singleton
from rewardkit.types import RewardResult, Sample


class _SettingsOwner(Environment):
    """Only borrowed for its config validation, which names the failing field path."""

    name = "judge.score"
    Config = JudgeSettings

    def dataset(self, split: str) -> list[Sample]:
        return []

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        raise NotImplementedError


def judge_for(params: dict[str, Any]) -> Judge:
    settings: JudgeSettings = _SettingsOwner.make_config(params)
    return _judge(json.dumps(settings.model_dump(mode="json"), sort_keys=True))


@process_singleton(rebuild_after_fork=True)  # its client belongs to the parent's scoring loop
def _judge(settings_json: str) -> Judge:
    return Judge(JudgeSettings.model_validate_json(settings_json))


async def judge_score(sample: Sample, completion: str, **params: Any) -> RewardResult:
    """LLM-as-a-judge verdict normalised to [0, 1]; judge failures are error outcomes, never 0."""
    judge = judge_for(params)
    with queued():  # loading the shared judge (once) is not this sample's work: not charged to its deadline
        await judge.setup()
    return await judge.score(sample, completion)


def _validate_params(params: dict[str, Any]) -> None:
    _SettingsOwner.make_config(params)


# Lets the host reject bad judge settings when the rubric is built, not at the first scoring call.
judge_score.validate_params = _validate_params  # type: ignore[attr-defined]
