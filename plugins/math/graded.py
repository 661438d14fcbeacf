"""What every math environment shares: a prompt format, a grading config, and scoring a gold answer."""

from __future__ import annotations

import dataclasses

from rewardkit.environment import EnvConfig, Environment, EnvMetadata
from rewardkit.plugins.math.grader import GradeConfig
from rewardkit.plugins.math.prompts import PromptConfig, reference_completion
from rewardkit.plugins.math.rewards import score_answer
from rewardkit.sample_format import SampleFormat
from rewardkit.types import RewardResult, Sample

STARTUP_ALLOWANCE = 5.0  # host deadline beyond the grading timeout: extraction, IPC, a worker restart
ROWS = SampleFormat(
    required={"answer": "the reference answer: a number, expression or LaTeX"},
    example={"completion": "<think>2 + 2 = 4</think><answer>4</answer>", "answer": "4"},
)


class GradedConfig(EnvConfig):
    """The prompt format and the grading settings every math environment has."""

    prompt: PromptConfig = PromptConfig()
    grading: GradeConfig = GradeConfig()


class GradedEnv(Environment):
    """Base of `math`, its presets and `math.procedural`: samples carry a gold answer in `answer`."""

    config: GradedConfig
    sample_format = ROWS

    def reference_completion(self, sample: Sample) -> str | None:
        return None if sample.answer is None else reference_completion(str(sample.answer))

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        return await score_answer(sample, completion, self.config.grading)

    def metadata(self) -> EnvMetadata:
        timeout = self.config.grading.timeout + STARTUP_ALLOWANCE
        return dataclasses.replace(super().metadata(), score_timeout=timeout)
