"""The one scoring path of the math plugin: the environments and the `math.accuracy` reward both use it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardkit.plugins.math.checker import grade
from rewardkit.plugins.math.grader import GradeConfig
from rewardkit.types import Message, RewardResult, Sample


async def accuracy(sample: Sample, completion: str, **grading: Any) -> RewardResult:
    """1.0 when the completion's final answer equals `sample.answer`, else 0.0; None without a gold answer.

    Keyword parameters are GradeConfig fields (`rel_tol`, `extraction`, `timeout`, ...).
    """
    config = GradeConfig(**grading) if grading else DEFAULT_GRADING
    return await score_answer(sample, completion, config)


async def score_answer(sample: Sample, completion: str, config: GradeConfig) -> RewardResult:
    """Grade `completion` against `sample.answer`.

    The last-number policy follows the prompt the model saw (`sample.prompt`; a sample without one, as in a
    `rewardkit score` row without `prompt`, keeps the fallback). Multiple-choice options come from
    `sample.info["choices"]` or `sample.info["options"]`.
    """
    if sample.answer is None:
        return RewardResult(score=None)
    config = config.for_prompt(_prompt_text(sample.prompt) or None)
    choices = sample.info.get("choices", sample.info.get("options"))
    verdict = await grade(str(sample.answer), completion, config, choices)
    return RewardResult(score=1.0 if verdict.correct else 0.0, info=verdict.info())


def _prompt_text(messages: Sequence[Message]) -> str:
    return "\n".join(str(message.get("content") or "") for message in messages or ())


DEFAULT_GRADING = GradeConfig()
