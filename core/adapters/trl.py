"""TRL: `reward_funcs` for GRPOTrainer (and any trainer calling `f(prompts, completions, **columns)`).

Build the dataset with `to_hf_dataset(env)` (each row carries its serialized Sample) and pass
`trl_reward_func(env)` in `reward_funcs`. Scores keep rewardkit's semantics: `None` (does not apply, or an
infrastructure error, which is also logged) is what TRL itself uses for "no reward for this sample".
Episode environments train with TRL through `trl_environment_factory` and `trl_episode_reward`
(rewardkit.episodes.trl_adapter, re-exported by rewardkit.adapters).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from typing import Any

from rewardkit.adapters.common import SAMPLE_COLUMN, AdapterSpec, sample_of
from rewardkit.environment import Environment
from rewardkit.loading import RubricSpec, make_rubric
from rewardkit.scoring import Scorer
from rewardkit.types import Sample

logger = logging.getLogger(__name__)


def to_hf_dataset(env: Environment, split: str = "train", limit: int | None = None) -> Any:
    """A `datasets.Dataset` with TRL's conversational `prompt` column plus the serialized Sample."""
    import datasets

    rows = [
        {"prompt": list(s.prompt), SAMPLE_COLUMN: json.dumps(s.to_dict())}
        for s in islice(env.dataset(split), limit)
    ]
    return datasets.Dataset.from_list(rows)


def trl_reward_func(
    env: Environment | str,
    rubric: RubricSpec | None = None,
    timeout: float | None = None,
    name: str | None = None,
    **config: Any,
) -> Callable[..., list[float | None]]:
    """A TRL reward function scoring through rewardkit's host (timeouts, validation, error outcomes).

    TRL logs each reward function under its `__name__` (`rewards/<name>/mean`), so every function made here
    gets a distinct one: `name`, or the environment's name (plus its rubric's rewards), numbered when
    the same name was already handed out in this process.
    """
    if isinstance(env, str):
        scorer = AdapterSpec(env, config, rubric, timeout).build()
    else:
        scorer = Scorer(env, make_rubric(rubric, env=env) if rubric else None, timeout=timeout)
    environment = scorer.env

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        samples = [_sample_of(columns, i, prompts[i]) for i in range(len(completions))]
        results = scorer.score_batch_sync(samples, [_text_of(c) for c in completions])
        for result in results:
            if result.error:
                logger.warning("rewardkit %s: %s", environment.name, result.error)
        return [result.score for result in results]

    reward.__name__ = reward.__qualname__ = _unique_name(name or _default_name(environment.name, rubric))
    return reward


def _default_name(env_name: str, rubric: RubricSpec | None) -> str:
    parts = [env_name, *(item for item in (rubric or {}) if item not in (env_name, "env"))]
    return "+".join(parts).replace(".", "_")


_names: dict[str, int] = {}
_names_lock = threading.Lock()


def _unique_name(base: str) -> str:
    with _names_lock:
        _names[base] = _names.get(base, 0) + 1
        return base if _names[base] == 1 else f"{base}_{_names[base]}"


def _sample_of(columns: Mapping[str, Any], index: int, prompt: Any) -> Sample:
    if SAMPLE_COLUMN in columns:
        return sample_of(None, {SAMPLE_COLUMN: columns[SAMPLE_COLUMN][index]})
    answer = columns.get("answer", [None] * (index + 1))[index]
    info = columns.get("info", [{}] * (index + 1))[index] or {}
    return sample_of(answer, info, str(index), prompt)


def _text_of(completion: Any) -> str:
    """TRL passes plain strings, or for conversational data a list of messages whose last is the reply."""
    if isinstance(completion, str):
        return completion
    return str(completion[-1]["content"]) if completion else ""
