"""Use rewardkit environments from other trainers: TRL, verl, OpenRLHF, NeMo RL (docs/integrations.md).

Each adapter scores through a `rewardkit.Scorer` (deadlines, validation, error outcomes) and translates
rewardkit's outcomes into what its trainer understands. Importing this package imports no trainer.
"""

from rewardkit.adapters.common import SAMPLE_COLUMN, AdapterSpec, scorer_for
from rewardkit.adapters.nemo_rl import NemoRLEnvironment
from rewardkit.adapters.openrlhf import RewardFunc, openrlhf_reward_func, to_openrlhf_rows
from rewardkit.adapters.trl import to_hf_dataset, trl_reward_func
from rewardkit.adapters.verl import (
    DATA_SOURCES,
    to_verl_rows,
    verl_compute_score,
    verl_compute_score_async,
    verl_compute_score_batch,
)
from rewardkit.episodes.trl_adapter import trl_environment_factory, trl_episode_reward

__all__ = [
    "DATA_SOURCES",
    "SAMPLE_COLUMN",
    "AdapterSpec",
    "NemoRLEnvironment",
    "RewardFunc",
    "openrlhf_reward_func",
    "scorer_for",
    "to_hf_dataset",
    "to_openrlhf_rows",
    "to_verl_rows",
    "trl_environment_factory",
    "trl_episode_reward",
    "trl_reward_func",
    "verl_compute_score",
    "verl_compute_score_async",
    "verl_compute_score_batch",
]
