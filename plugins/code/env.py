"""The `code` environment (and its presets `humaneval`, `mbpp`): run a completion's program against tests."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from pydantic import Field

import rewardkit as rk
from rewardkit.data import DataSource, iter_records
from rewardkit.errors import ConfigError, UnknownNameError
from rewardkit.plugins.code.extract import extract_code
from rewardkit.plugins.code.formats import (
    SAMPLE_FORMAT,
    detect_format,
    generic_sample,
    humaneval_sample,
    make_plan,
    mbpp_sample,
)
from rewardkit.plugins.code.verdicts import make_job, read_outcome, summary
from rewardkit.sandbox import Limits, Sandbox, make_sandbox, options_model
from rewardkit.sandbox.options import validate_options

PRESETS = {
    "humaneval": DataSource(hub="openai/openai_humaneval", split="test"),
    "mbpp": DataSource(hub="google-research-datasets/mbpp", name="sanitized", split="test"),
}


class CodeConfig(rk.EnvConfig):
    preset: Literal["humaneval", "mbpp"] | None = None
    data: DataSource | None = None  # overrides the preset's source (hub id or local JSONL/Parquet)
    format: Literal["auto", "humaneval", "mbpp", "stdio"] = "auto"
    reward: Literal["all", "fraction"] = "all"  # all-or-nothing, or the fraction of tests passed
    extract: Literal["last_block", "whole"] = "last_block"
    output_match: Literal["exact", "strip", "tokens", "float"] = "strip"  # stdio comparison
    float_tolerance: float = 1e-6
    timeout: float = Field(15.0, gt=0, le=300)  # seconds for all tests of one sample (one sandbox job)
    test_timeout: float = Field(10.0, gt=0, le=300)  # seconds per test (a later test still runs)
    memory_mb: int = Field(512, ge=32)
    output_bytes: int = Field(1 << 20, ge=1024)
    sandbox: str = "docker"
    # The backend's own typed options (rewardkit.sandbox.options), checked when the environment is made:
    # e.g. {"pool_size": 4, "packages": ["numpy"]} for docker.
    sandbox_options: dict[str, Any] = {}


class CodeEnv(rk.Environment):
    """Python programs checked by unit tests or stdin/stdout cases in a sandbox."""

    name = "code"
    Config = CodeConfig
    version = "1"
    needs = frozenset({"sandbox", "docker"})
    splits: ClassVar[tuple[str, ...]] = ("test", "train")
    sample_format = SAMPLE_FORMAT
    default_preset: str | None = None

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._sandbox: Sandbox | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def make_config(cls, config: Any = None, **overrides: Any) -> Any:
        """The config, with `sandbox` a registered backend and `sandbox_options` valid for it."""
        made = super().make_config(config, **overrides)
        where = f"{cls.name}.config"
        try:
            model = options_model(made.sandbox)
        except UnknownNameError as error:
            raise ConfigError(f"{where}.sandbox: {error}") from None
        if model is not None:
            validate_options(model, made.sandbox_options, f"{where}.sandbox_options")
        return made

    def metadata(self) -> rk.EnvMetadata:
        meta = super().metadata()
        needs = frozenset({"sandbox", "docker"} if self.config.sandbox == "docker" else {"sandbox"})
        # A job may be retried once on a fresh slot, plus queueing for a free slot.
        timeout = 2 * self.config.timeout + 10
        return dataclasses.replace(meta, needs=needs, score_timeout=timeout)

    # -- data --------------------------------------------------------------------------------------
    def dataset(self, split: str) -> Iterator[rk.Sample]:
        preset = self.config.preset or self.default_preset
        source = self.config.data or PRESETS.get(preset or "")
        if source is None:
            raise ConfigError(f"{self.name}: set `data` (a local file or hub dataset) or `preset`")
        if source.hub is not None and self.config.data is None:
            source = source.model_copy(update={"split": split})
        # A local file is one split (data.path: {train: a, test: b} for several); hub splits are set above.
        records = iter_records(source, split=split if source.path is not None else None)
        for index, record in enumerate(records):
            if preset == "humaneval":
                yield humaneval_sample(record)
            elif preset == "mbpp":
                yield mbpp_sample(record)
            else:
                yield generic_sample(record, index)

    # -- sandbox -----------------------------------------------------------------------------------
    async def setup(self) -> None:
        async with self._lock:
            if self._sandbox is None:
                sandbox = make_sandbox(self.config.sandbox, **self.config.sandbox_options)
                try:
                    await asyncio.to_thread(sandbox.start)  # fails here (missing image...), before step 0
                except ConfigError as error:
                    other = "bwrap" if self.config.sandbox == "docker" else "docker"
                    raise ConfigError(
                        f"{self.name}: {error}; or choose another backend with this environment's "
                        f"`sandbox` field (now {self.config.sandbox!r}), e.g. --set sandbox={other}"
                    ) from None
                self._sandbox = sandbox

    async def teardown(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            await asyncio.to_thread(sandbox.close)

    # -- scoring -----------------------------------------------------------------------------------
    async def score(self, sample: rk.Sample, completion: str) -> rk.RewardResult:
        fmt = self.config.format if self.config.format != "auto" else detect_format(sample.info)
        if fmt is None:
            return rk.RewardResult(score=None, info={"reason": "sample has no tests this environment knows"})
        code = extract_code(completion, self.config.extract)
        if not code.strip():
            return rk.RewardResult(score=0.0, info={"reason": "no code found"})
        plan = make_plan(fmt, sample.info, code, self.config.test_timeout)
        if plan.n_tests == 0:
            return rk.RewardResult(score=None, info={"reason": "sample has no tests"})
        if self._sandbox is None:
            await self.setup()
        assert self._sandbox is not None
        limits = Limits(self.config.timeout, self.config.memory_mb << 20, self.config.output_bytes)
        result = await asyncio.to_thread(self._sandbox.run_job, make_job(plan, limits))
        if result.status == "sandbox_error":
            return rk.RewardResult.failure(f"sandbox_error: {result.error}", sandbox_status=result.status)
        outcome = read_outcome(plan, result, self.config.output_match, self.config.float_tolerance)
        fraction = outcome.n_passed / plan.n_tests
        all_passed = outcome.n_passed == plan.n_tests and outcome.finished
        score = fraction if self.config.reward == "fraction" else float(all_passed)
        info = {"sandbox_status": result.status, "duration": round(result.duration, 4), **summary(outcome)}
        return rk.RewardResult(score=score, components={"pass_fraction": fraction}, info=info)


class HumanEvalEnv(CodeEnv):
    """HumanEval (164 problems): complete a function, checked by its `check(candidate)` tests."""

    name = "humaneval"
    splits = ("test",)
    default_preset = "humaneval"


class MbppEnv(CodeEnv):
    """MBPP sanitized (427 problems): write a function that passes the given asserts."""

    name = "mbpp"
    splits = ("test", "train", "validation", "prompt")
    default_preset = "mbpp"
