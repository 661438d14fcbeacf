"""rewardkit.plugins.judge: LLM-as-a-judge rewards (bundled plugin).

Backends: any OpenAI-compatible endpoint (httpx) or a local transformers model. Importing this module is
light: the environment and reward are registered by import path, and backends, httpx and torch load only
when a judge is built.
"""

from __future__ import annotations

from typing import Any

import rewardkit

REWARDKIT_PLUGIN_API = 1


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    register("rewardkit.plugins.judge.env:JudgeEnv", name="judge")


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    register("judge.score", "rewardkit.plugins.judge.reward:judge_score", reward_range=(0.0, 1.0))
