"""rewardkit.plugins.judge: LLM-as-a-judge rewards (bundled plugin).

Backends: any OpenAI-compatible endpoint (httpx) or a local transformers model. Importing this module is
light: backends, httpx and torch load only when a judge is built.
"""

from __future__ import annotations

from typing import Any

import rewardkit

REWARDKIT_PLUGIN_API = 1


@rewardkit.hookimpl
def register_environments(register: Any) -> None:
    from rewardkit.plugins.judge.env import JudgeEnv

    register(JudgeEnv)


@rewardkit.hookimpl
def register_rewards(register: Any) -> None:
    from rewardkit.plugins.judge.reward import judge_score

    register("judge.score", judge_score, reward_range=(0.0, 1.0))
