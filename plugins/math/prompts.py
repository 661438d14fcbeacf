"""Prompt construction. Default: the DeepSeek-R1 convention (reason in <think>, answer in <answer>)."""

from __future__ import annotations

from pydantic import Field

from rewardkit.config import StrictModel
from rewardkit.types import Message, system, user

R1_SYSTEM_PROMPT = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The Assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and "
    "<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>."
)
DEFAULT_TEMPLATE = "{question}\nGive the final answer in <answer> </answer> tags (or as \\boxed{{...}})."


class PromptConfig(StrictModel):
    """`template` is a str.format string with `{question}`; `system_prompt=None` sends no system message."""

    system_prompt: str | None = Field(R1_SYSTEM_PROMPT, description="system message; null for none")
    template: str = Field(DEFAULT_TEMPLATE, description="user message; {question} is replaced")


def build_prompt(question: str, config: PromptConfig) -> list[Message]:
    messages = [system(config.system_prompt)] if config.system_prompt else []
    messages.append(user(config.template.format(question=question)))
    return messages


def reference_completion(answer: str, reasoning: str | None = None) -> str:
    """A gold completion in the default format: `reasoning` (a worked solution) in the think block, where
    there is one; the contract kit and smoke tests take the placeholder."""
    return f"<think>{reasoning or 'The reference solution.'}</think> <answer>{answer}</answer>"
