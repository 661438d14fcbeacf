"""The Environment contract every plugin implements: a dataset of Samples and a verifier."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from rewardkit.config import StrictModel
from rewardkit.errors import config_error
from rewardkit.sample_format import SampleFormat
from rewardkit.types import RewardResult, Sample

Needs = frozenset[str]
KNOWN_NEEDS = frozenset({"docker", "network", "gpu", "sandbox"})


class EnvConfig(StrictModel):
    """Base of every environment's typed config. Unknown keys are errors, so typos never pass silently."""


@dataclass(frozen=True)
class EnvMetadata:
    """What the host and trainers need to know about an environment before using it."""

    name: str
    version: str = "0"
    description: str = ""
    reward_range: tuple[float, float] = (0.0, 1.0)
    needs: Needs = field(default_factory=frozenset)
    deterministic: bool = True
    splits: tuple[str, ...] = ("train",)
    score_timeout: float | None = None  # seconds; None means the host's default
    # True when a verdict depends on episode state that a stored trajectory does not hold (a sandbox's
    # files, a game's hidden state): `rewardkit rescore` then refuses to re-score stored rollouts.
    stateful_scoring: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "reward_range": list(self.reward_range),
            "needs": sorted(self.needs),
            "deterministic": self.deterministic,
            "splits": list(self.splits),
            "score_timeout": self.score_timeout,
            "stateful_scoring": self.stateful_scoring,
        }


class Environment(ABC):
    """A source of prompts plus a verifier of completions.

    Subclasses set `name` (and optionally `Config`, `reward_range`, `needs`, `deterministic`, `splits`,
    `sample_format`) and implement `dataset` and `score`. The host validates every score, applies timeouts
    and turns exceptions into error outcomes, so `score` may simply raise on infrastructure failure.
    """

    name: ClassVar[str]
    Config: ClassVar[type[EnvConfig]] = EnvConfig
    version: ClassVar[str] = "0"
    reward_range: ClassVar[tuple[float, float]] = (0.0, 1.0)
    needs: ClassVar[frozenset[str]] = frozenset()
    deterministic: ClassVar[bool] = True
    splits: ClassVar[tuple[str, ...]] = ("train",)
    score_timeout: ClassVar[float | None] = None
    stateful_scoring: ClassVar[bool] = False
    max_concurrency: ClassVar[int] = 16
    # The sample fields `score` reads; score rows and training data are checked against it.
    sample_format: ClassVar[SampleFormat] = SampleFormat()

    def __init__(self, config: EnvConfig | Mapping[str, Any] | None = None, **overrides: Any) -> None:
        self.config = self.make_config(config, **overrides)

    @classmethod
    def make_config(cls, config: EnvConfig | Mapping[str, Any] | None = None, **overrides: Any) -> Any:
        if isinstance(config, cls.Config) and not overrides:
            return config
        values = dict(config.model_dump() if isinstance(config, BaseModel) else config or {})
        values.update(overrides)
        try:
            return cls.Config.model_validate(values)
        except ValidationError as error:
            raise config_error(error, cls.Config, root=f"{cls.name}.config") from None

    @abstractmethod
    def dataset(self, split: str) -> Iterable[Sample]:
        """Yield the samples of `split`. Ids are unique within the split."""

    @abstractmethod
    async def score(self, sample: Sample, completion: str) -> RewardResult:
        """Score one completion of `sample`. Wrong or unparseable answers score 0.0, not None."""

    async def score_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        """Score many completions; override to batch requests. The default runs `score` concurrently."""
        limit = asyncio.Semaphore(self.max_concurrency)

        async def bounded(sample: Sample, completion: str) -> RewardResult:
            async with limit:
                return await self.score(sample, completion)

        return list(await asyncio.gather(*map(bounded, samples, completions)))

    def metadata(self) -> EnvMetadata:
        """Override when metadata depends on the config (e.g. the reward range)."""
        return self.class_metadata()

    @classmethod
    def class_metadata(cls) -> EnvMetadata:
        """Metadata from class attributes alone (listings use it when no default config exists)."""
        doc = (cls.__doc__ or "").strip().splitlines()
        return EnvMetadata(
            name=cls.name,
            version=cls.version,
            description=doc[0] if doc else "",
            reward_range=cls.reward_range,
            needs=frozenset(cls.needs),
            deterministic=cls.deterministic,
            splits=cls.splits,
            score_timeout=cls.score_timeout,
            stateful_scoring=cls.stateful_scoring,
        )

    def reference_completion(self, sample: Sample) -> str | None:
        """A completion that must earn the top of reward_range (for the contract kit and `rewardkit check`).

        Override when the gold completion is not simply the answer (e.g. code: the canonical solution).
        """
        return None if sample.answer is None else str(sample.answer)

    async def setup(self) -> None:
        """Acquire resources (sandbox pool, judge client). Fail here, before step 0, not at step 500."""

    async def teardown(self) -> None:
        """Release what `setup` acquired."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, config={self.config!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """An environment pickles as its class and config: the copy (in a Ray worker, a process pool) is
        constructed anew and runs its own `setup` there, so clients, pools and locks never travel."""
        return (type(self), (self.config,))
