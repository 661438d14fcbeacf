"""Typed judge settings, shared by the `judge` environment and the `judge.score` reward.

Secrets never appear here: an endpoint's API key is read from the environment variable named by
`api_key_env`, so configs can be committed and logged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from rewardkit import EnvConfig
from rewardkit.config import StrictModel


class OpenAIBackendConfig(StrictModel):
    """Any OpenAI-compatible chat endpoint: vLLM, SGLang, TGI, llama.cpp, or a hosted API."""

    kind: Literal["openai"] = "openai"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str
    api_key_env: str | None = None  # name of the variable holding the key, e.g. "OPENAI_API_KEY"
    timeout: float = Field(60.0, gt=0)  # seconds per HTTP request
    max_concurrency: int = Field(16, ge=1)  # requests in flight at once
    max_retries: int = Field(3, ge=0)  # on 429, 5xx, timeouts and connection errors
    backoff_initial: float = Field(0.5, ge=0)  # seconds; doubled per retry, with jitter
    backoff_max: float = Field(20.0, ge=0)
    probe: bool = True  # GET /models at setup, so a dead endpoint fails before step 0
    # How verdict="choice" constrains the output: a JSON schema with an enum (OpenAI, vLLM, SGLang, TGI), or
    # vLLM's `structured_outputs.choice` (bare label; immune to weak models padding JSON with whitespace).
    constrain: Literal["json_schema", "vllm_choice"] = "json_schema"


class TransformersBackendConfig(StrictModel):
    """A local causal LM judged in-process, in batches."""

    kind: Literal["transformers"] = "transformers"
    model: str  # local directory (or hub id where the hub is reachable)
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    batch_size: int = Field(8, ge=1)
    max_input_tokens: int = Field(4096, ge=16)  # longer prompts are an error outcome, never silently cut


BackendConfig = Annotated[OpenAIBackendConfig | TransformersBackendConfig, Field(discriminator="kind")]


class SamplingConfig(StrictModel):
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(256, ge=1)
    seed: int | None = None
    top_logprobs: int = Field(10, ge=1, le=20)  # used by verdict="logprobs"/"choice" on endpoints
    extra_body: dict[str, object] = {}  # passed through to the endpoint (e.g. vLLM's top_k)


class TemplateConfig(StrictModel):
    """A custom judge prompt. Placeholders: {question} {reference} {response} {criteria} {labels}."""

    name: str = "custom"
    system: str = ""
    user: str
    labels: dict[str, float]  # verdict label -> raw value, e.g. {"yes": 1, "no": 0} or {"1": 1, ..., "5": 5}
    aliases: dict[str, str] = {}  # extra words accepted for a label, e.g. {"correct": "yes"}
    needs_reference: bool = False
    verdict_key: str | None = None  # set when `user` asks for JSON like {"verdict": ...} (choice mode)


Verdict = Literal["text", "logprobs", "choice"]


class JudgeSettings(EnvConfig):
    """Everything that decides a verdict. Part of the cache key (except cache location and limits)."""

    backend: BackendConfig
    template: str | TemplateConfig = "correctness"  # a built-in name or an inline template
    template_file: str | None = None  # a YAML/JSON file holding a TemplateConfig
    criteria: str = ""  # for "rubric" and "yesno"; default text per template
    scale: tuple[int, int] = (1, 10)  # for "rubric": verdicts on this integer scale, normalised to [0, 1]
    verdict: Verdict = "text"
    sampling: SamplingConfig = SamplingConfig()
    max_response_chars: int = Field(6000, ge=64)  # the policy's completion is cut (head + tail) to this
    exact_match_shortcut: bool = True  # correctness: a response equal to the reference scores 1 with no call
    cache: bool = True
    cache_path: str | None = None  # default: $REWARDKIT_CACHE or ~/.cache/rewardkit, judge.sqlite
    batch_window: float = Field(0.005, ge=0)  # seconds the reward waits to gather concurrent calls

    @field_validator("scale")
    @classmethod
    def _ordered(cls, scale: tuple[int, int]) -> tuple[int, int]:
        if not scale[0] < scale[1]:
            raise ValueError(f"scale must be (low, high) with low < high, got {scale}")
        return scale

    @model_validator(mode="after")
    def _check(self) -> JudgeSettings:
        if self.template_file is not None and self.template != "correctness":
            raise ValueError("give either `template` or `template_file`, not both")
        return self
