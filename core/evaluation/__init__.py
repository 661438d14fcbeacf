"""Evaluation: `rewardkit eval` (rollouts and pass@k of a model), `rescore`, `view` and `export`.

Importing this package is light; generation clients and models load when a run starts.
"""

from rewardkit.evaluation.config import EvalConfig, EvalEnvironment, load_eval_config, parse_eval_config
from rewardkit.evaluation.metrics import PARSED_ANSWER, majority, max_at_k, pass_at_k, pass_hat_k
from rewardkit.evaluation.policy import ChatModel, Reply, Rollout, RolloutRunner, SingleTurn

__all__ = [
    "PARSED_ANSWER",
    "ChatModel",
    "EvalConfig",
    "EvalEnvironment",
    "Reply",
    "Rollout",
    "RolloutRunner",
    "SingleTurn",
    "load_eval_config",
    "majority",
    "max_at_k",
    "parse_eval_config",
    "pass_at_k",
    "pass_hat_k",
]
