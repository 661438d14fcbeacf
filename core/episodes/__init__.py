"""Episodes: multi-turn and tool-using environments (the contract, tools, the host's rules, runners).

Importing this package is light (pydantic only); transformers is imported only to parse reply text.
"""

from rewardkit.episodes.contract import EpisodeEnvironment, Policy, Reply, Step, is_episodic
from rewardkit.episodes.parsing import FORMATS, ParsedReply, ReplyParser
from rewardkit.episodes.runner import run_episode, run_episodes, scripted
from rewardkit.episodes.session import (
    INFRASTRUCTURE_STOPS,
    EpisodeResult,
    EpisodeSession,
    EpisodeStats,
    TrajectoryScorer,
    Turn,
    resolve_tools,
    score_trajectory,
)
from rewardkit.episodes.tools import Tool, ToolCallError, ToolInfrastructureError, make_tool, tool

__all__ = [
    "FORMATS",
    "INFRASTRUCTURE_STOPS",
    "EpisodeEnvironment",
    "EpisodeResult",
    "EpisodeSession",
    "EpisodeStats",
    "ParsedReply",
    "Policy",
    "Reply",
    "ReplyParser",
    "Step",
    "Tool",
    "ToolCallError",
    "ToolInfrastructureError",
    "TrajectoryScorer",
    "Turn",
    "is_episodic",
    "make_tool",
    "resolve_tools",
    "run_episode",
    "run_episodes",
    "score_trajectory",
    "scripted",
    "tool",
]
