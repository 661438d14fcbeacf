"""The served environments: each built once with its Scorer, and its samples found by id on demand."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from rewardkit.environment import Environment
from rewardkit.errors import ConfigError, RewardkitError
from rewardkit.host import get_host
from rewardkit.loading import make_rubric
from rewardkit.scoring import Scorer
from rewardkit.serve.config import ServeConfig, ServedEnvironment
from rewardkit.types import Sample


class SampleNotFound(LookupError):
    """No sample with that id in the first `max_scan` samples of the split."""


@dataclass
class Served:
    """One environment as the server serves it."""

    key: str
    spec: ServedEnvironment
    env: Environment
    scorer: Scorer
    _index: dict[str, dict[str, Sample]] = field(default_factory=dict)
    _readers: dict[str, Iterator[Sample]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.key,
            "environment": self.env.name,
            "reward_range": list(self.scorer.reward_range),
            "rubric": self.spec.rubric,
            "metadata": self.env.metadata().to_dict(),
            "sample_fields": self.env.sample_format.fields(),
        }

    def sample(self, sample_id: str, split: str | None, max_scan: int) -> Sample:
        """The sample `sample_id` of `split` (default: the first split), read from the dataset at most once:
        every sample read on the way is kept, so later lookups are dictionary hits."""
        split = split or self.env.metadata().splits[0]
        with self._lock:
            index = self._index.setdefault(split, {})
            if sample_id in index:
                return index[sample_id]
            reader = self._readers.get(split)
            if reader is None:
                reader = self._readers[split] = iter(self.env.dataset(split))
            for sample in itertools.islice(reader, max(0, max_scan - len(index))):
                index[sample.id] = sample
                if sample.id == sample_id:
                    return sample
        raise SampleNotFound(
            f"{self.key} has no sample {sample_id!r} in the first {len(index)} samples of split {split!r}; "
            "send the sample itself instead of its id"
        )


def build_served(config: ServeConfig) -> dict[str, Served]:
    """Every configured environment, built and set up (a broken one fails here, before serving)."""
    host = get_host()
    served: dict[str, Served] = {}
    for index, spec in enumerate(config.environments):
        where = f"environments.{index}"
        try:
            env = host.environment(spec.name).cls(spec.config)
            rubric = make_rubric(spec.rubric, env=env, host=host) if spec.rubric else None
        except RewardkitError as error:
            raise ConfigError(f"{where}: {error}") from None
        scorer = Scorer(env, rubric=rubric, timeout=spec.score_timeout, concurrency=spec.concurrency)
        served[spec.served_as] = Served(spec.served_as, spec, env, scorer)
    for item in served.values():
        item.scorer.start()
    return served


def close_served(served: Mapping[str, Served]) -> None:
    for item in served.values():
        item.scorer.close()
