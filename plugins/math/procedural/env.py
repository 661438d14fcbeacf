"""`math.procedural`: an offline, seeded, infinite stream of generated problems with sympy-computed golds."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterator
from typing import ClassVar, Literal, get_args

from pydantic import Field, model_validator

from rewardkit.environment import EnvConfig, Environment, EnvMetadata
from rewardkit.plugins.math.checker import grade
from rewardkit.plugins.math.env import ROWS
from rewardkit.plugins.math.grader import GradeConfig
from rewardkit.plugins.math.prompts import PromptConfig, build_prompt, reference_completion
from rewardkit.plugins.math.rewards import verdict_result
from rewardkit.types import RewardResult, Sample

Kind = Literal[
    "arithmetic",
    "fractions",
    "linear",
    "system",
    "quadratic",
    "expand",
    "factor",
    "derivative",
    "integral",
    "word",
]
ALL_KINDS: tuple[Kind, ...] = get_args(Kind)
MAX_LEVEL = 5


class ProceduralConfig(EnvConfig):
    """Which generators, which difficulty levels, which seed; `size` makes the train split finite."""

    kinds: tuple[Kind, ...] = Field(ALL_KINDS, min_length=1, description="generator kinds to draw from")
    difficulty: tuple[int, int] = Field((1, 2), description="(lowest, highest) level, 1 = trivial .. 5")
    seed: int = 0
    size: int | None = Field(None, ge=1, description="train split length; null: infinite")
    test_size: int = Field(200, ge=1, description="test split length (always finite)")
    prompt: PromptConfig = PromptConfig()
    grading: GradeConfig = GradeConfig()

    @model_validator(mode="after")
    def _levels(self) -> ProceduralConfig:
        low, high = self.difficulty
        if not 1 <= low <= high <= MAX_LEVEL:
            raise ValueError(f"difficulty must be (low, high) with 1 <= low <= high <= {MAX_LEVEL}")
        return self


class ProceduralMath(Environment):
    """Generated arithmetic, algebra and calculus problems; same seed, same problems; no download."""

    name = "math.procedural"
    version = "1"
    Config = ProceduralConfig
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    sample_format = ROWS
    config: ProceduralConfig

    def dataset(self, split: str) -> Iterator[Sample]:
        """Lazy: problem i depends only on (seed, split, i), so the stream can be resumed anywhere."""
        count = self.config.test_size if split == "test" else self.config.size
        indices = range(count) if count is not None else itertools.count()
        return (self.sample(split, index) for index in indices)

    def sample(self, split: str, index: int) -> Sample:
        from rewardkit.plugins.math.procedural.generators import GENERATORS  # sympy: only when used

        rng = random.Random(f"{self.config.seed}/{split}/{index}")
        kind = rng.choice(self.config.kinds)
        level = rng.randint(*self.config.difficulty)
        problem = GENERATORS[kind](rng, level)
        return Sample(
            id=f"{split}-{index}",
            prompt=build_prompt(problem.question, self.config.prompt),
            answer=problem.answer,
            info={"kind": kind, "level": level},
        )

    def reference_completion(self, sample: Sample) -> str | None:
        return None if sample.answer is None else reference_completion(str(sample.answer))

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        if sample.answer is None:
            return RewardResult(score=None)
        verdict = await grade(str(sample.answer), completion, self.config.grading)
        return verdict_result(verdict.correct, verdict.info())

    def metadata(self) -> EnvMetadata:
        base = super().metadata()
        return dataclasses.replace(base, score_timeout=self.config.grading.timeout + 5.0)
