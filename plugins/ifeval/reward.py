"""`ifeval.instructions`: IFEval checks as a reward for any environment whose samples carry instructions."""

from __future__ import annotations

from rewardkit import RewardResult, Sample
from rewardkit.plugins.ifeval.env import Metric, metrics
from rewardkit.plugins.ifeval.nlp import MissingDependency
from rewardkit.plugins.ifeval.registry import InstructionError, evaluate


def instructions(
    sample: Sample, completion: str, metric: Metric = "instruction_strict"
) -> RewardResult | None:
    """Share (or all-or-nothing, metric="prompt_*") of `sample.info["instruction_id_list"]` followed.

    Does not apply (None) to samples without IFEval instructions."""
    ids = sample.info.get("instruction_id_list") if sample.info else None
    if not ids:
        return None
    try:
        verdicts = evaluate(completion, ids, sample.info.get("kwargs") or [{}] * len(ids))
    except (InstructionError, MissingDependency) as error:
        return RewardResult.failure(f"ifeval.instructions: {error}")
    components = metrics(verdicts)
    return RewardResult(components[metric], components)
