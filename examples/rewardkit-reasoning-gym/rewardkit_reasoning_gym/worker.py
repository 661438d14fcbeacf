"""What runs in the scoring worker processes: reasoning-gym's own scorers, under the host's deadline.

Some scorers parse the answer with sympy or evaluate expressions, which a crafted answer can make run for
ever; in a worker such a call is killed at its deadline instead of holding a thread of the host.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from rewardkit_reasoning_gym.tasks import TUPLE_METADATA


def warm_up() -> None:
    """Import reasoning_gym once per worker, before the first sample's deadline starts."""
    import reasoning_gym  # noqa: F401


@functools.lru_cache(maxsize=256)
def _dataset(task: str, params_json: str) -> Any:
    import reasoning_gym

    return reasoning_gym.create_dataset(task, **json.loads(params_json), size=1, seed=0)


def task_score(task: str, params_json: str, answer: str, entry: dict[str, Any]) -> tuple[float, str | None]:
    """The task's own score for `answer`, and why its scorer raised if it did (then the score is 0.0:
    scorers raise on answers they cannot parse)."""
    dataset = _dataset(task, params_json)
    if task in TUPLE_METADATA:
        entry = {**entry, "metadata": _tuples(entry["metadata"])}
    try:
        return float(dataset.score_answer(answer, entry)), None
    except Exception as error:
        return 0.0, f"{type(error).__name__}: {str(error)[:200]}"


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value
