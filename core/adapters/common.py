"""What every adapter shares: one Scorer per environment spec and process, and samples from trainer rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rewardkit.loading import RubricSpec, load_environment, make_rubric
from rewardkit.scoring import Scorer
from rewardkit.singleton import process_singleton
from rewardkit.types import Sample

SAMPLE_COLUMN = "rewardkit_sample"
"""The dataset column (TRL) or extra_info key (verl) holding a serialized Sample, written by the adapters'
dataset helpers; when present, a row is scored exactly as the environment made it."""


@dataclass(frozen=True)
class AdapterSpec:
    """An environment as an adapter builds it: name, config, rubric and per-sample deadline."""

    env: str
    config: Mapping[str, Any] = field(default_factory=dict)
    rubric: RubricSpec | None = None
    timeout: float | None = None

    @property
    def key(self) -> str:
        return json.dumps([self.env, self.config, self.rubric, self.timeout], sort_keys=True, default=str)

    def __hash__(self) -> int:  # equal specs have equal keys; config and rubric are unhashable mappings
        return hash(self.key)

    def build(self) -> Scorer:
        environment = load_environment(self.env, **dict(self.config))
        rubric = make_rubric(self.rubric, env=environment) if self.rubric else None
        return Scorer(environment, rubric=rubric, timeout=self.timeout)


@process_singleton(rebuild_after_fork=True)  # its environment's clients belong to the parent's scoring loop
def scorer_for(spec: AdapterSpec) -> Scorer:
    """The process's Scorer for `spec`, built on first use (each trainer worker process builds its own)."""
    return spec.build()


def sample_of(
    answer: Any, info: Mapping[str, Any] | None, sample_id: str = "0", prompt: Any = None
) -> Sample:
    """The Sample a trainer row stands for: the serialized one under SAMPLE_COLUMN in `info`, if any."""
    info = dict(info or {})
    serialized = info.get(SAMPLE_COLUMN)
    if serialized:
        return Sample.from_dict(json.loads(serialized) if isinstance(serialized, str) else serialized)
    return Sample.from_dict({"id": sample_id, "prompt": prompt or [], "answer": answer, "info": info})
