"""`math`: any dataset of problems with reference answers (HF hub, local JSONL/Parquet), plus presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from pydantic import Field

from rewardkit.data import DataSource, iter_records
from rewardkit.environment import EnvConfig, Environment, EnvMetadata
from rewardkit.plugins.math.builtin import BUILTIN_PROBLEMS
from rewardkit.plugins.math.checker import grade
from rewardkit.plugins.math.extract import extract_gold
from rewardkit.plugins.math.grader import GradeConfig
from rewardkit.plugins.math.prompts import PromptConfig, build_prompt, reference_completion
from rewardkit.plugins.math.rewards import verdict_result
from rewardkit.sample_format import SampleFormat
from rewardkit.types import RewardResult, Sample

ID_FIELDS = ("id", "unique_id", "problem_id", "idx")
STARTUP_ALLOWANCE = 5.0  # host deadline beyond the grading timeout: extraction, IPC, a worker restart
ROWS = SampleFormat(
    required={"answer": "the reference answer: a number, expression or LaTeX"},
    example={"completion": "<think>2 + 2 = 4</think><answer>4</answer>", "answer": "4"},
)


class MathConfig(EnvConfig):
    """Records need a `question` and an `answer` field (use `data.columns` to map other names)."""

    data: DataSource | None = Field(None, description="where problems come from; null: a built-in set")
    prompt: PromptConfig = PromptConfig()
    grading: GradeConfig = GradeConfig()


class MathEnv(Environment):
    """Math word and competition problems with reference answers, graded by symbolic equivalence."""

    name = "math"
    version = "1"
    Config = MathConfig
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    # Hub splits differ per dataset; a local file is one split (rewardkit.data); the built-in set is any.
    config: MathConfig
    sample_format = ROWS

    def dataset(self, split: str) -> Iterator[Sample]:
        for index, record in enumerate(self._records(split)):
            yield self.make_sample(record, split, index)

    def _records(self, split: str) -> Iterable[Mapping[str, Any]]:
        source = self.config.data
        if source is None:
            return BUILTIN_PROBLEMS
        return iter_records(source, split=split, required=("question",))

    def make_sample(self, record: Mapping[str, Any], split: str, index: int) -> Sample:
        question, answer = str(record["question"]), record.get("answer")
        gold = None if answer is None else (extract_gold(str(answer)) or str(answer))
        record_id = next((record[k] for k in ID_FIELDS if record.get(k) is not None), None)
        info = {k: v for k, v in record.items() if k not in ("question", "answer") and _jsonable(v)}
        return Sample(
            id=f"{split}-{record_id if record_id is not None else index}",
            prompt=build_prompt(question, self.config.prompt),
            answer=gold,
            info=info,
        )

    def reference_completion(self, sample: Sample) -> str | None:
        return None if sample.answer is None else reference_completion(str(sample.answer))

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        if sample.answer is None:
            return RewardResult(score=None)
        verdict = await grade(str(sample.answer), completion, self.config.grading)
        return verdict_result(verdict.correct, verdict.info())

    def metadata(self) -> EnvMetadata:
        base = super().metadata()
        timeout = self.config.grading.timeout + STARTUP_ALLOWANCE
        return dataclasses.replace(base, score_timeout=timeout)


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


class GSM8KConfig(MathConfig):
    data: DataSource | None = DataSource(hub="openai/gsm8k", name="main")


class GSM8K(MathEnv):
    """GSM8K grade-school word problems (openai/gsm8k, `main`); gold is the number after `####`."""

    name = "gsm8k"
    Config = GSM8KConfig


class MATH500Config(MathConfig):
    data: DataSource | None = DataSource(
        hub="HuggingFaceH4/MATH-500", split="test", columns={"question": "problem"}
    )


class MATH500(MathEnv):
    """MATH-500 competition problems (HuggingFaceH4/MATH-500); gold is the `answer` column."""

    name = "math500"
    Config = MATH500Config
    splits = ("test",)
