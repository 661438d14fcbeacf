"""`retry`: self-correction in the spirit of R1. A wrong answer gets feedback ("incorrect, try again") up to
`attempts` tries; the reward decays with each attempt used. Any single-turn environment is the base."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from pydantic import Field

from rewardkit.environment import EnvConfig, Environment, EnvMetadata
from rewardkit.episodes import EpisodeEnvironment, Policy, Step, ToolInfrastructureError, scripted
from rewardkit.loading import load_environment
from rewardkit.scoring import Scorer
from rewardkit.types import Message, RewardResult, Sample, Trajectory, user

FEEDBACK = "Your answer is incorrect. Check your work and try again."


class RetryConfig(EnvConfig):
    base: str = Field("math.procedural", description="the single-turn environment that grades each attempt")
    base_config: dict[str, Any] = Field(default_factory=dict, description="that environment's config")
    attempts: int = Field(3, ge=1, le=32, description="answers the model may give")
    decay: float = Field(0.5, ge=0.0, le=1.0, description="reward factor per extra attempt: decay**(k-1)")
    feedback: str = Field(FEEDBACK, description="the message after a wrong answer")


class Retry(EpisodeEnvironment):
    """Feedback and retry: a wrong answer gets "incorrect, try again"; reward decays with attempts."""

    name = "retry"
    version = "1"
    Config = RetryConfig
    config: RetryConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.base: Environment = load_environment(self.config.base, **self.config.base_config)
        self.max_turns = self.config.attempts  # type: ignore[misc]  # per instance, from the config
        self._scorer = Scorer(self.base)

    def metadata(self) -> EnvMetadata:
        base = self.base.metadata()
        # A bare trajectory (rescore) grades every attempt: the deadline is the base's, once per attempt.
        timeout = base.score_timeout * self.config.attempts if base.score_timeout else None
        return replace(
            super().metadata(),
            splits=base.splits,
            needs=base.needs,
            reward_range=(0.0, 1.0),
            score_timeout=timeout,
        )

    def dataset(self, split: str) -> Iterator[Sample]:
        return iter(self.base.dataset(split))

    async def setup(self) -> None:
        await asyncio.to_thread(self._scorer.start)

    async def teardown(self) -> None:
        await asyncio.to_thread(self._scorer.close)

    async def start(self, sample: Sample) -> dict[str, Any]:
        return {"sample": sample, "scores": []}

    async def step(self, state: dict[str, Any], reply: Message, tool_results: list[Message]) -> Step:
        result = await self._scorer.score(state["sample"], reply["content"])
        if result.error is not None:
            raise ToolInfrastructureError(f"{self.base.name} could not grade the attempt: {result.error}")
        state["scores"].append(result.score)
        solved = self._solved(result.score)
        last = len(state["scores"]) >= self.config.attempts
        info = {"attempt_scores": list(state["scores"])}
        if solved or last:
            return Step(done=True, reward=result.score, info=info)
        return Step([user(self.config.feedback)], reward=result.score, info=info)

    def _solved(self, score: float | None) -> bool:
        top = self.base.metadata().reward_range[1]
        return score is not None and score >= top - 1e-9

    async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
        scores = trajectory.info.get("attempt_scores")
        if scores is None:  # a trajectory this environment did not record (rescore, `rewardkit score`)
            attempts = [m["content"] for m in trajectory.messages if m["role"] == "assistant"]
            graded = [await self._scorer.score(sample, text) for text in attempts[: self.config.attempts]]
            if any(r.error for r in graded):
                return RewardResult.failure(next(str(r.error) for r in graded if r.error))
            scores = [r.score for r in graded]
        solved_at = next((k for k, s in enumerate(scores) if self._solved(s)), None)
        if solved_at is None:
            return RewardResult(0.0, components={"attempts": float(len(scores)), "solved": 0.0})
        score = self.config.decay**solved_at
        return RewardResult(score, components={"attempts": float(solved_at + 1), "solved": 1.0})

    def reference_policy(self, sample: Sample) -> Policy | None:
        gold = self.base.reference_completion(sample)
        return None if gold is None else scripted([gold])
