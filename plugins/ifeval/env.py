"""The `ifeval` environment: IFEval prompts, scored by prompt- and instruction-level strict/loose accuracy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from rewardkit import EnvConfig, Environment, RewardResult, Sample, SampleFormat, user
from rewardkit.data import DataSource, iter_records
from rewardkit.plugins.format.tags import split_think
from rewardkit.plugins.ifeval.nlp import MissingDependency
from rewardkit.plugins.ifeval.registry import InstructionError, Verdicts, clean_kwargs, evaluate

Metric = Literal["prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"]


class IFEvalConfig(EnvConfig):
    data: DataSource = DataSource(hub="google/IFEval", split="train")
    score: Metric = "prompt_strict"
    strip_reasoning: bool = True  # score only what follows </think> when the completion has one


class IFEval(Environment):
    """IFEval: verifiable instruction following (25 instruction types, strict and loose accuracy)."""

    name = "ifeval"
    Config = IFEvalConfig
    version = "1"
    splits = ("train",)
    score_timeout = 30.0
    sample_format = SampleFormat(
        required={
            "info.instruction_id_list": 'IFEval instruction ids, e.g. ["punctuation:no_comma"]',
            "info.kwargs": "one dict of arguments per instruction (empty dicts where none)",
        },
        example={
            "completion": "A reply without that punctuation mark",
            "info": {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
        },
    )

    def dataset(self, split: str = "train") -> Iterable[Sample]:
        if split not in self.splits:
            raise ValueError(f"ifeval has split 'train' only (IFEval ships one split), not {split!r}")
        return self._samples()

    def _samples(self) -> Iterator[Sample]:
        for record in iter_records(self.config.data):
            yield to_sample(record)

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        # the checkers are CPU-bound (Punkt, langdetect): keep them off the event loop
        return await asyncio.to_thread(self.score_sync, sample, completion)

    def score_sync(self, sample: Sample, completion: str) -> RewardResult:
        response = completion
        if self.config.strip_reasoning:
            split = split_think(completion, answer_tag=None)
            response = split.answer if split.closed else completion
        try:
            verdicts = evaluate(response, sample.info["instruction_id_list"], sample.info["kwargs"])
        except (KeyError, InstructionError) as error:
            return RewardResult.failure(f"ifeval sample {sample.id}: bad instruction data: {error}")
        except MissingDependency as error:
            return RewardResult.failure(str(error))
        components = metrics(verdicts)
        return RewardResult(
            components[self.config.score],
            components,
            info={"strict": verdicts.strict, "loose": verdicts.loose},
        )


def to_sample(record: Mapping[str, Any]) -> Sample:
    """An IFEval row (`key`, `prompt`, `instruction_id_list`, `kwargs`) as a Sample."""
    ids = list(record["instruction_id_list"])
    kwargs = [clean_kwargs(k) for k in record["kwargs"]]
    return Sample(
        id=f"ifeval-{record['key']}",
        prompt=[user(record["prompt"])],
        info={"key": record["key"], "instruction_id_list": ids, "kwargs": kwargs},
    )


def metrics(verdicts: Verdicts) -> dict[str, float]:
    """Per-prompt metrics; `followed_*` / `instructions` let a caller pool instruction-level accuracy."""
    n = len(verdicts.strict)
    return {
        "prompt_strict": float(all(verdicts.strict)),
        "prompt_loose": float(all(verdicts.loose)),
        "instruction_strict": sum(verdicts.strict) / n if n else 1.0,
        "instruction_loose": sum(verdicts.loose) / n if n else 1.0,
        "followed_strict": float(sum(verdicts.strict)),
        "followed_loose": float(sum(verdicts.loose)),
        "instructions": float(n),
    }


def aggregate(results: Sequence[RewardResult]) -> dict[str, float]:
    """IFEval's four headline numbers over scored results (instruction level pooled over all prompts)."""
    scored = [r.components for r in results if r.error is None and "instructions" in r.components]
    if not scored:
        return {}
    total = sum(c["instructions"] for c in scored) or 1.0
    return {
        "prompt_level_strict_acc": sum(c["prompt_strict"] for c in scored) / len(scored),
        "inst_level_strict_acc": sum(c["followed_strict"] for c in scored) / total,
        "prompt_level_loose_acc": sum(c["prompt_loose"] for c in scored) / len(scored),
        "inst_level_loose_acc": sum(c["followed_loose"] for c in scored) / total,
    }
