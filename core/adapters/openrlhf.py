"""OpenRLHF: a `reward_func(queries, prompts, labels)` for `--reward.remote_url /path/to/reward_func.py`.

OpenRLHF loads that file and calls its `reward_func` with the full texts (prompt + response), the prompts
and the labels (`--data.label_key`). The file is two lines:

    from rewardkit.adapters import RewardFunc
    reward_func = RewardFunc("gsm8k", rubric={"gsm8k": 1.0, "format.think_answer": 0.2})

A label is the answer, or a serialized Sample (`{"id", "prompt", "answer", "info"}` as JSON: the `label`
column of `to_openrlhf_rows(env)`) for environments that read more than the answer. OpenRLHF swallows
a reward function's exceptions (the sample then has no reward), so infrastructure errors score 0.0 and are
logged; a wrong environment name fails when the file is loaded, before training starts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from itertools import islice
from typing import Any

from rewardkit.adapters.common import AdapterSpec, sample_of, scorer_for
from rewardkit.environment import Environment
from rewardkit.loading import RubricSpec
from rewardkit.types import RewardResult, Sample

logger = logging.getLogger(__name__)

# OpenRLHF decodes with special tokens kept, so a response ends with its end-of-turn token; format rewards
# that read the end of a completion must not see it.
END_TOKENS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "</s>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
)


class RewardFunc:
    """Callable as OpenRLHF calls `reward_func`; returns `{"rewards", "scores", "extra_logs"}` tensors."""

    def __init__(
        self,
        env: str,
        rubric: RubricSpec | None = None,
        timeout: float | None = None,
        end_tokens: Sequence[str] = END_TOKENS,
        **config: Any,
    ) -> None:
        self.spec = AdapterSpec(env, config, rubric, timeout)
        self.end_tokens = tuple(end_tokens)
        scorer_for(self.spec)  # a bad name or config fails now, when OpenRLHF loads the file

    def __call__(
        self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any
    ) -> dict[str, Any]:
        import torch

        samples = [label_sample(label, index) for index, label in enumerate(labels)]
        completions = [
            strip_end_tokens(response_of(query, prompt), self.end_tokens)
            for query, prompt in zip(queries, prompts, strict=True)
        ]
        results = scorer_for(self.spec).score_batch_sync(samples, completions)
        rewards = torch.tensor([_reward(self.spec.env, r) for r in results], dtype=torch.float)
        return {"rewards": rewards, "scores": rewards, "extra_logs": extra_logs(self.spec.env, results)}


def openrlhf_reward_func(
    env: str, rubric: RubricSpec | None = None, timeout: float | None = None, **config: Any
) -> RewardFunc:
    return RewardFunc(env, rubric, timeout, **config)


def to_openrlhf_rows(
    env: Environment, split: str = "train", limit: int | None = None
) -> list[dict[str, Any]]:
    """Prompt-dataset rows for OpenRLHF (`--data.input_key prompt --data.label_key label
    --data.apply_chat_template`): the chat prompt, and the serialized Sample as the label."""
    return [
        {"prompt": list(sample.prompt), "label": json.dumps(sample.to_dict())}
        for sample in islice(env.dataset(split), limit)
    ]


def label_sample(label: Any, index: int) -> Sample:
    """A label as a Sample: a serialized one (JSON), or the answer."""
    if isinstance(label, str) and label.startswith("{"):
        try:
            row = json.loads(label)
        except ValueError:
            row = None
        if isinstance(row, dict) and "id" in row and "answer" in row:
            return Sample.from_dict(row)
    return sample_of(label, None, str(index))


def response_of(query: str, prompt: str) -> str:
    """The response is what follows the prompt in the full text OpenRLHF decoded."""
    return query[len(prompt) :] if isinstance(prompt, str) and query.startswith(prompt) else query


def strip_end_tokens(response: str, tokens: tuple[str, ...] = END_TOKENS) -> str:
    stripped = response.rstrip()
    while ended := next((t for t in tokens if stripped.endswith(t)), None):
        stripped = stripped[: -len(ended)].rstrip()
    return stripped


def _reward(env: str, result: RewardResult) -> float:
    if result.error:
        logger.warning("rewardkit %s: %s", env, result.error)
    return result.score if result.score is not None else 0.0


def extra_logs(env: str, results: Sequence[RewardResult]) -> dict[str, float]:
    """Batch means of each component, and the share of errors, for OpenRLHF's wandb logging."""
    logs: dict[str, float] = {
        f"rewardkit/{env}/error_rate": sum(r.error is not None for r in results) / max(1, len(results))
    }
    names = sorted({name for r in results for name in r.components})
    for name in names:
        values = [r.components[name] for r in results if name in r.components]
        logs[f"rewardkit/{env}/{name}"] = sum(values) / len(values)
    return logs
