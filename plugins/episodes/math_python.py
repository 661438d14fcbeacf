"""`math.python`: tool-integrated reasoning. The model may run Python in the sandbox before it answers;
its final answer is graded by the math plugin's `math.accuracy` reward."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from pydantic import Field

from rewardkit.environment import EnvConfig, Environment, EnvMetadata
from rewardkit.episodes import EpisodeEnvironment, Policy, scripted
from rewardkit.episodes.tools import Tool
from rewardkit.host import get_host
from rewardkit.loading import load_environment
from rewardkit.plugins.episodes.python_tool import PythonTool
from rewardkit.sample_format import SampleFormat
from rewardkit.types import Message, RewardResult, Sample, Trajectory, system

INSTRUCTIONS = (
    "You can run Python with the `python` tool to compute or check intermediate results; each call is a "
    "fresh program, so print what you need. When you are sure, give the final answer without a tool call."
)


class MathPythonConfig(EnvConfig):
    base: str = Field("math.procedural", description="the math environment whose problems are used")
    base_config: dict[str, Any] = Field(default_factory=dict, description="that environment's config")
    sandbox: str = Field("docker", description="sandbox backend running the model's code")
    sandbox_options: dict[str, Any] = Field(default_factory=dict)
    code_timeout: float = Field(10.0, gt=0, le=300, description="seconds per program")
    max_turns: int = Field(6, ge=1, description="assistant messages per episode")
    instructions: str = INSTRUCTIONS


class MathPython(EpisodeEnvironment):
    """Math problems with a Python tool (runs in the code sandbox); the final answer is graded by math."""

    name = "math.python"
    version = "1"
    Config = MathPythonConfig
    needs = frozenset({"sandbox"})
    sample_format = SampleFormat(
        required={"answer": "the reference answer: a number, expression or LaTeX"},
        example={"completion": "\\boxed{4}", "answer": "4"},
    )
    config: MathPythonConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.base: Environment = load_environment(self.config.base, **self.config.base_config)
        self.python = PythonTool(
            self.config.sandbox, self.config.sandbox_options, timeout=self.config.code_timeout
        )
        self.max_turns = self.config.max_turns  # type: ignore[misc]  # per instance, from the config

    def dataset(self, split: str) -> Iterator[Sample]:
        for sample in self.base.dataset(split):
            yield Sample(sample.id, self._prompt(sample.prompt), sample.answer, sample.info)

    def _prompt(self, prompt: list[Message]) -> list[Message]:
        rest = [m for m in prompt if m["role"] != "system"]
        head = "\n\n".join(
            [m["content"] for m in prompt if m["role"] == "system"] + [self.config.instructions]
        )
        return [system(head), *rest]

    def metadata(self) -> EnvMetadata:
        base = self.base.metadata()  # its grading deadline is the one the final answer needs
        return replace(super().metadata(), splits=base.splits, score_timeout=base.score_timeout)

    def tools(self, sample: Sample) -> list[Tool]:
        return [self.python.tool]

    async def setup(self) -> None:
        await asyncio.to_thread(self.python.start)

    async def teardown(self) -> None:
        await asyncio.to_thread(self.python.close)

    async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
        accuracy = get_host().reward("math.accuracy").fn
        result: RewardResult = await accuracy(sample, trajectory.completion)
        return result

    def reference_policy(self, sample: Sample) -> Policy | None:
        final = self.base.reference_completion(sample)
        if final is None:
            return None
        code = f"print({json.dumps(str(sample.answer))})"
        call = json.dumps({"name": "python", "arguments": {"code": code}})
        return scripted([f"Let me check.\n<tool_call>\n{call}\n</tool_call>", final])
