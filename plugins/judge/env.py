"""The `judge` environment: questions with reference answers (or rubric prompts), graded by an LLM judge."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rewardkit import Environment, EnvMetadata, RewardResult, Sample, SampleFormat, user
from rewardkit.data import DataSource, iter_records
from rewardkit.plugins.judge.config import JudgeSettings, OpenAIBackendConfig
from rewardkit.plugins.judge.judge import Judge

DEMO_PATH = Path(__file__).with_name("demo.json")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOCAL_SCORE_TIMEOUT = 300.0  # seconds for a whole batch on a local model (CPU judges are slow)


class JudgeEnvConfig(JudgeSettings):
    data: DataSource | None = None  # records with question (or prompt), answer (or reference), optional id


class JudgeEnv(Environment):
    """Completions graded by an LLM judge (OpenAI-compatible endpoint or local transformers model)."""

    name = "judge"
    Config = JudgeEnvConfig
    version = "0.1.0"
    sample_format = SampleFormat(
        optional={
            "prompt": "the question, shown to the judge (or info.question)",
            "answer": "the reference answer (or info.reference); templates that need one skip rows without",
        },
        example={"prompt": "What is the capital of France?", "completion": "Paris.", "answer": "Paris"},
    )

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._judge: Judge | None = None

    @property
    def judge(self) -> Judge:
        if self._judge is None:
            self._judge = Judge(self.config)
        return self._judge

    def dataset(self, split: str) -> Iterator[Sample]:
        records = iter_records(self.config.data, split=split) if self.config.data else _demo_records()
        for index, record in enumerate(records):
            question = record.get("question", record.get("prompt"))
            if not isinstance(question, str):
                raise ValueError(f"judge data record {index} has no string `question` or `prompt`")
            answer = record.get("answer", record.get("reference"))
            sample_id = str(record.get("id", f"{split}-{index}"))
            yield Sample(id=sample_id, prompt=[user(question)], answer=answer, info={"question": question})

    async def setup(self) -> None:
        await self.judge.setup()

    async def teardown(self) -> None:
        if self._judge is not None:
            await self._judge.aclose()

    async def score(self, sample: Sample, completion: str) -> RewardResult:
        return await self.judge.score(sample, completion)

    async def score_batch(self, samples: Sequence[Sample], completions: Sequence[str]) -> list[RewardResult]:
        # The whole batch (every GRPO group in it) is deduplicated, cached and judged concurrently.
        return await self.judge.score_many(samples, completions)

    def metadata(self) -> EnvMetadata:
        return dataclasses.replace(
            self.class_metadata(),
            needs=_needs(self.config),
            # A sampled judge can disagree with itself; greedy and likelihood verdicts do not.
            deterministic=_deterministic(self.config),
            score_timeout=_score_timeout(self.config),
        )


def _demo_records() -> Iterator[dict[str, Any]]:
    yield from json.loads(DEMO_PATH.read_text(encoding="utf-8"))


def _deterministic(config: JudgeSettings) -> bool:
    # Greedy decoding and local likelihood verdicts repeat themselves; a sampled judge may not.
    local_choice = config.verdict == "choice" and not isinstance(config.backend, OpenAIBackendConfig)
    return config.sampling.temperature == 0 or local_choice


def _needs(config: JudgeSettings) -> frozenset[str]:
    backend = config.backend
    if isinstance(backend, OpenAIBackendConfig):
        host = urlparse(backend.base_url).hostname or ""
        return frozenset() if host in LOOPBACK else frozenset({"network"})
    return frozenset({"gpu"}) if backend.device.startswith("cuda") else frozenset()


def _score_timeout(config: JudgeSettings) -> float:
    backend = config.backend
    if not isinstance(backend, OpenAIBackendConfig):
        return LOCAL_SCORE_TIMEOUT
    # Every attempt may use the full request timeout, plus the longest backoffs between attempts.
    attempts = backend.max_retries + 1
    return backend.timeout * attempts + backend.backoff_max * backend.max_retries + 5.0
