"""`math`: any dataset of problems with reference answers (HF hub, local JSONL/Parquet), plus presets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

from pydantic import Field

from rewardkit.data import DataSource, iter_records
from rewardkit.plugins.math.builtin import BUILTIN_PROBLEMS
from rewardkit.plugins.math.extract import extract_gold
from rewardkit.plugins.math.graded import GradedConfig, GradedEnv
from rewardkit.plugins.math.prompts import build_prompt
from rewardkit.types import Sample

ID_FIELDS = ("id", "unique_id", "problem_id", "idx")


class MathConfig(GradedConfig):
    """Records need a `question` and an `answer` field (use `data.columns` to map other names)."""

    data: DataSource | None = Field(None, description="where problems come from; null: a built-in set")


class MathEnv(GradedEnv):
    """Math word and competition problems with reference answers, graded by symbolic equivalence."""

    name = "math"
    version = "1"
    Config = MathConfig
    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    # Hub splits differ per dataset; a local file is one split (rewardkit.data); the built-in set is any.
    config: MathConfig

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


def _jsonable(value: Any) -> bool:
    """Plain JSON values survive into `info` (multiple-choice `choices` lists among them); objects do not."""
    if isinstance(value, list | tuple):
        return all(_jsonable(item) for item in value)
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _jsonable(item) for key, item in value.items())
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
