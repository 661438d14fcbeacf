"""rewardkit: verifiable reward environments for RL on language models, as pip-installable plugins.

Importing this package is light: no torch, transformers, sympy, docker or vllm; the episode API loads on
first use, since scoring single replies (`rewardkit score`, a trainer's rewards) never needs it.
"""

from typing import TYPE_CHECKING

from rewardkit.config import StrictModel
from rewardkit.environment import EnvConfig, Environment, EnvMetadata
from rewardkit.errors import ConfigError, PluginError, RewardkitError, UnknownNameError
from rewardkit.hookspecs import PLUGIN_API_VERSION, hookimpl
from rewardkit.lazy_exports import lazy_exports
from rewardkit.loading import get_plugins, list_environments, load_environment, make_rubric
from rewardkit.records import RecordWriter, RolloutRecord, read_records
from rewardkit.rubric import Rubric, RubricItem
from rewardkit.sample_format import SampleFormat
from rewardkit.scoring import Scorer
from rewardkit.types import (
    Message,
    RewardResult,
    Sample,
    StopReason,
    ToolCall,
    Trajectory,
    assistant,
    system,
    user,
)

if TYPE_CHECKING:
    from rewardkit.episodes import EpisodeEnvironment, Reply, Step, Tool, tool

__version__ = "0.1.0"
__getattr__ = lazy_exports(
    __name__, dict.fromkeys(["EpisodeEnvironment", "Reply", "Step", "Tool", "tool"], "rewardkit.episodes")
)

__all__ = [
    "PLUGIN_API_VERSION",
    "ConfigError",
    "EnvConfig",
    "EnvMetadata",
    "Environment",
    "EpisodeEnvironment",
    "Message",
    "PluginError",
    "RecordWriter",
    "Reply",
    "RewardResult",
    "RewardkitError",
    "RolloutRecord",
    "Rubric",
    "RubricItem",
    "Sample",
    "SampleFormat",
    "Scorer",
    "Step",
    "StopReason",
    "StrictModel",
    "Tool",
    "ToolCall",
    "Trajectory",
    "UnknownNameError",
    "__version__",
    "assistant",
    "get_plugins",
    "hookimpl",
    "list_environments",
    "load_environment",
    "make_rubric",
    "read_records",
    "system",
    "tool",
    "user",
]
