"""Use rewardkit environments from other trainers: TRL `reward_funcs` and verl `compute_score`.

Episode environments train with TRL through `trl_environment_factory` and `trl_episode_reward`
(rewardkit.episodes.trl_adapter).

TRL: build the dataset with `to_hf_dataset(env)` (each row carries its serialized Sample) and pass
`trl_reward_func(env)` in `reward_funcs`. Scores keep rewardkit's semantics: `None` (does not apply, or an
infrastructure error, which is also logged) is what TRL itself uses for "no reward for this sample".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from typing import Any

from rewardkit.environment import Environment
from rewardkit.episodes.trl_adapter import trl_environment_factory, trl_episode_reward
from rewardkit.loading import RubricSpec, load_environment, make_rubric
from rewardkit.scoring import Scorer
from rewardkit.types import Sample

logger = logging.getLogger(__name__)

SAMPLE_COLUMN = "rewardkit_sample"
__all__ = [
    "SAMPLE_COLUMN",
    "to_hf_dataset",
    "trl_environment_factory",
    "trl_episode_reward",
    "trl_reward_func",
    "verl_compute_score",
]


def to_hf_dataset(env: Environment, split: str = "train", limit: int | None = None) -> Any:
    """A `datasets.Dataset` with TRL's conversational `prompt` column plus the serialized Sample."""
    import datasets

    rows = [
        {"prompt": list(s.prompt), SAMPLE_COLUMN: json.dumps(s.to_dict())}
        for s in islice(env.dataset(split), limit)
    ]
    return datasets.Dataset.from_list(rows)


def trl_reward_func(
    env: Environment | str, rubric: RubricSpec | None = None, timeout: float | None = None, **config: Any
) -> Callable[..., list[float | None]]:
    """A TRL reward function scoring through rewardkit's host (timeouts, validation, error outcomes)."""
    environment = load_environment(env, **config) if isinstance(env, str) else env
    scorer = Scorer(environment, make_rubric(rubric, env=environment) if rubric else None, timeout=timeout)

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        samples = [_sample_of(columns, i, prompts[i]) for i in range(len(completions))]
        results = scorer.score_batch_sync(samples, [_text_of(c) for c in completions])
        for result in results:
            if result.error:
                logger.warning("rewardkit %s: %s", environment.name, result.error)
        return [result.score for result in results]

    reward.__name__ = environment.name.replace(".", "_")
    return reward


def _sample_of(columns: Mapping[str, Any], index: int, prompt: Any) -> Sample:
    if SAMPLE_COLUMN in columns:
        return Sample.from_dict(json.loads(columns[SAMPLE_COLUMN][index]))
    answer = columns.get("answer", [None] * (index + 1))[index]
    info = columns.get("info", [{}] * (index + 1))[index] or {}
    return Sample.from_dict({"id": str(index), "prompt": prompt, "answer": answer, "info": info})


def _text_of(completion: Any) -> str:
    """TRL passes plain strings, or for conversational data a list of messages whose last is the reply."""
    if isinstance(completion, str):
        return completion
    return str(completion[-1]["content"]) if completion else ""


_verl_scorers: dict[str, Scorer] = {}
_verl_lock = threading.Lock()


def verl_compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None
) -> float:
    """verl's `custom_reward_function`: `data_source` names the environment, `ground_truth` is the answer.

    verl has no "not applicable" or "error" outcome, so both score 0.0 here; errors are logged.
    """
    with _verl_lock:
        if data_source not in _verl_scorers:
            _verl_scorers[data_source] = Scorer(load_environment(data_source))
        scorer = _verl_scorers[data_source]
    sample = Sample(id="verl", prompt=[], answer=ground_truth, info=dict(extra_info or {}))
    result = scorer.score_sync(sample, solution_str)
    if result.error:
        logger.warning("rewardkit %s: %s", data_source, result.error)
    return result.score if result.score is not None else 0.0
