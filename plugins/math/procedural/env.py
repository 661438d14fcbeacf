"""`math.procedural`: an offline, seeded, infinite stream of generated problems with sympy-computed golds."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from typing import ClassVar, Literal, get_args

from pydantic import Field, model_validator

from rewardkit.errors import ConfigError
from rewardkit.plugins.math.graded import GradedConfig, GradedEnv
from rewardkit.plugins.math.prompts import build_prompt, reference_completion
from rewardkit.types import Sample

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
Operator = Literal["+", "-", "*"]
ALL_OPERATORS: tuple[Operator, ...] = get_args(Operator)
MAX_LEVEL = 5
# Consecutive train draws that may all be test problems before the problem space counts as used up: a
# space whose test split leaves a tenth of it to training passes this with near certainty.
MAX_HELD_OUT_RUN = 1_000


class ProceduralConfig(GradedConfig):
    """Which generators, levels, operators and seed; `size` makes the train split finite."""

    kinds: tuple[Kind, ...] = Field(ALL_KINDS, min_length=1, description="generator kinds to draw from")
    difficulty: tuple[int, int] = Field((1, 2), description="(lowest, highest) level, 1 = trivial .. 5")
    operators: tuple[Operator, ...] = Field(
        ALL_OPERATORS,
        min_length=1,
        description="operators the arithmetic, fractions and word problems may use; ['+']: addition only",
    )
    seed: int = 0
    size: int | None = Field(None, ge=1, description="train split length; null: infinite")
    test_size: int = Field(200, ge=1, description="test split length (always finite)")
    disjoint_splits: bool = Field(
        True, description="leave the test split's problems out of the train split (an honest held-out test)"
    )

    @model_validator(mode="after")
    def _levels(self) -> ProceduralConfig:
        low, high = self.difficulty
        if not 1 <= low <= high <= MAX_LEVEL:
            raise ValueError(f"difficulty must be (low, high) with 1 <= low <= high <= {MAX_LEVEL}")
        return self


class ProceduralMath(GradedEnv):
    """Generated arithmetic, algebra and calculus problems; same seed, same problems; no download."""

    name = "math.procedural"
    version = "1"
    Config = ProceduralConfig
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    config: ProceduralConfig

    def dataset(self, split: str) -> Iterator[Sample]:
        """Lazy: problem i depends only on (seed, split, i), so the stream can be resumed anywhere.

        With `disjoint_splits`, train problems that also appear in the test split are skipped (their
        indices are not reused), and `size` counts the train problems that remain.
        """
        if split == "test":
            return (self.sample(split, index) for index in range(self.config.test_size))
        samples: Iterator[Sample] = (self.sample(split, index) for index in itertools.count())
        if self.config.disjoint_splits:
            samples = self._unseen_in_test(samples)
        return itertools.islice(samples, self.config.size)

    def sample(self, split: str, index: int) -> Sample:
        from rewardkit.plugins.math.procedural.generators import GENERATORS  # sympy: only when used

        rng = random.Random(f"{self.config.seed}/{split}/{index}")
        kind = rng.choice(self.config.kinds)
        level = rng.randint(*self.config.difficulty)
        problem = GENERATORS[kind](rng, level, self.config.operators)
        info: dict[str, object] = {"kind": kind, "level": level}
        if problem.worked is not None:
            info["worked"] = problem.worked
        return Sample(
            id=f"{split}-{index}",
            prompt=build_prompt(problem.question, self.config.prompt),
            answer=problem.answer,
            info=info,
        )

    def reference_completion(self, sample: Sample) -> str | None:
        """The worked solution in the think block where the generator wrote one (a cold start's data)."""
        if sample.answer is None:
            return None
        return reference_completion(str(sample.answer), sample.info.get("worked"))

    def _unseen_in_test(self, samples: Iterator[Sample]) -> Iterator[Sample]:
        held_out, run = self._test_problems, 0
        for sample in samples:
            if _problem_key(sample) not in held_out:
                run = 0
                yield sample
                continue
            run += 1
            if run >= MAX_HELD_OUT_RUN:
                raise ConfigError(
                    f"{self.name}: the last {run} train problems drawn were all test problems: these "
                    "kinds, difficulty and operators allow too few distinct problems for a separate test "
                    "split; lower test_size, widen the problem space, or set disjoint_splits=false"
                )

    @functools.cached_property
    def _test_problems(self) -> frozenset[tuple[str, str]]:
        return frozenset(_problem_key(sample) for sample in self.dataset("test"))


def _problem_key(sample: Sample) -> tuple[str, str]:
    return sample.prompt[-1]["content"], str(sample.answer)
