"""Prompts for each step: a weighted mix of environments, in an order that a resumed run reproduces.

The mixture draws an environment per prompt with a seeded numpy generator; each environment walks a
permutation of its samples that depends only on (seed, environment index, epoch). The whole position is
a small JSON-able state (generator state + per-environment cursors) saved in every checkpoint.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.errors import ConfigError
from rewardkit.types import Sample


@dataclass(frozen=True)
class Prompt:
    env: str  # the run's key of the environment (its name in the config)
    sample: Sample


class PromptSource:
    def __init__(self, datasets: Sequence[tuple[str, Sequence[Sample], float]], seed: int) -> None:
        self.keys = [key for key, _, _ in datasets]
        self.samples = [list(samples) for _, samples, _ in datasets]
        for key, samples in zip(self.keys, self.samples, strict=True):
            if not samples:
                raise ConfigError(f"environments.{key}: the dataset is empty")
        weights = np.array([weight for _, _, weight in datasets], dtype=np.float64)
        self.probs = weights / weights.sum()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.cursors = [(0, 0) for _ in self.keys]  # (epoch, position) per environment
        self._orders: dict[tuple[int, int], np.ndarray] = {}

    def next_batch(self, n: int) -> list[Prompt]:
        picks = self.rng.choice(len(self.keys), size=n, p=self.probs) if len(self.keys) > 1 else [0] * n
        return [Prompt(self.keys[i], self._next_sample(int(i))) for i in picks]

    def _next_sample(self, env: int) -> Sample:
        epoch, position = self.cursors[env]
        order = self._order(env, epoch)
        sample = self.samples[env][int(order[position])]
        position += 1
        self.cursors[env] = (epoch + 1, 0) if position == len(order) else (epoch, position)
        return sample

    def _order(self, env: int, epoch: int) -> np.ndarray:
        key = (env, epoch)
        if key not in self._orders:
            self._orders = {k: v for k, v in self._orders.items() if k[0] != env}  # keep one epoch per env
            self._orders[key] = np.random.default_rng([self.seed, env, epoch]).permutation(
                len(self.samples[env])
            )
        return self._orders[key]

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "cursors": [list(c) for c in self.cursors],
            "keys": self.keys,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["keys"] != self.keys:
            raise ConfigError(
                f"resume: the checkpoint's environments {state['keys']} differ from {self.keys}"
            )
        self.rng.bit_generator.state = state["rng"]
        self.cursors = [(int(e), int(p)) for e, p in state["cursors"]]


def take(samples: Iterable[Sample], limit: int | None) -> list[Sample]:
    return list(itertools.islice(samples, limit))
