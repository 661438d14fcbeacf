"""Helpers the evaluation tests import by name (their own module: `conftest` clashes across folders)."""

from __future__ import annotations

from rewardkit.evaluation.executor import rollout_seed

TINY = "tiny://qwen2?hidden=64&layers=2"


def scripted(replies: dict[tuple[str, str, int], str | tuple[str, str]], seed: int = 0):
    """A stub script answering rollout (env, sample id, index) with replies[...], found by its seed."""
    by_seed = {rollout_seed(seed, key): reply for key, reply in replies.items()}
    return lambda body: by_seed[body["seed"]]
