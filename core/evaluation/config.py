"""The typed config of `rewardkit eval`: what to evaluate, with which model, how to sample.

The same config comes from command-line options or from a YAML file (`rewardkit eval --config x.yaml`),
and is stored in the run's metadata.json so that `--resume` and `rescore` rebuild exactly this run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from rewardkit.config import StrictModel as Strict
from rewardkit.errors import config_error
from rewardkit.overrides import apply_overrides, load_config_file

Backend = Literal["openai", "vllm", "transformers"]


class EvalEnvironment(Strict):
    name: str = Field(description="an installed environment (see `rewardkit envs`)")
    config: dict[str, Any] = {}
    rubric: dict[str, float | dict[str, Any]] | None = Field(
        None, description="reward weights, e.g. {math.accuracy: 1.0, format.think_answer: 0.2}"
    )
    split: str | None = Field(None, description="default: the run's split")
    num_prompts: int | None = Field(None, gt=0, description="default: the run's num_prompts")
    rollouts: int | None = Field(None, gt=0, description="default: the run's rollouts")
    pass_threshold: float | None = Field(
        None,
        description="a rollout passes when its score is at least this; default: the top of the reward "
        "range, and only for environments whose scores are all at the bottom or top of their range",
    )
    score_timeout: float | None = Field(None, gt=0.0)


class SamplingConfig(Strict):
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 disables top-k (not sent to an endpoint)")
    max_tokens: int = Field(512, gt=0, description="most new tokens per reply")
    seed: int = 0
    stop: list[str] = Field(
        [], description="strings that end a reply (an endpoint drops the string, local backends keep it)"
    )
    extra: dict[str, Any] = Field(
        {}, description="more request fields for an OpenAI-compatible endpoint, e.g. {min_p: 0.05}"
    )


class EndpointConfig(Strict):
    base_url: str | None = Field(
        None, description="an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: str | None = Field(
        None, description="the environment variable holding the API key (the key never enters a config)"
    )
    max_concurrency: int = Field(32, gt=0, description="requests in flight at once")
    retries: int = Field(4, ge=0, description="retries of a failed request (connection, 429, 5xx)")
    backoff: float = Field(1.0, ge=0.0, description="first retry delay in seconds; doubles per retry")
    timeout: float = Field(300.0, gt=0.0, description="seconds for one request")


class LocalModelConfig(Strict):
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    batch_size: int = Field(64, gt=0, description="replies generated per batch")
    max_prompt_length: int = Field(2048, gt=0, description="longer prompts keep their last tokens")
    trust_remote_code: bool = False
    vllm_max_model_len: int | None = Field(None, gt=0)


class EpisodeOptions(Strict):
    """How episode (multi-turn) environments are played; single-turn environments ignore these."""

    max_turns: int | None = Field(None, gt=0, description="caps every environment's own max_turns")
    max_tokens: int | None = Field(
        None,
        gt=0,
        description="per episode: tokens after the prompt (replies and environment messages); stop reason "
        "budget. Default: until the model's context is full",
    )
    tool_format: str | dict[str, Any] = Field(
        "auto",
        description="how a local model's tool calls are read: auto (the model's own format), hermes, "
        "plain, or a response-template dict; an endpoint parses its own",
    )

    @field_validator("tool_format")
    @classmethod
    def _known_format(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        from rewardkit.episodes.parsing import FORMATS

        if isinstance(value, str) and value != "auto" and value not in FORMATS:
            raise ValueError(f"unknown tool-call format {value!r}; use auto, {', '.join(sorted(FORMATS))}")
        return value


class ScoringConfig(Strict):
    executor: Literal["local", "ray"] = Field(
        "local", description="local: this machine's pool; ray: actors of a Ray cluster (rewardkit[ray])"
    )
    ray_address: str | None = Field(None, description="a Ray cluster to join; default: running, or local")
    ray_actors: int | None = Field(None, gt=0, description="scoring actors; default: the cluster's CPUs")


class EvalConfig(Strict):
    model: str = Field(description="the endpoint's model name, or a local directory / tiny:// model")
    backend: Backend | None = Field(None, description="default: openai with base_url, else transformers")
    environments: list[EvalEnvironment] = Field(min_length=1)
    split: str | None = Field(
        None, description="default: `test` where the environment declares it, else its first split"
    )
    num_prompts: int | None = Field(None, gt=0, description="the first N samples of each split; default all")
    rollouts: int = Field(1, gt=0, description="rollouts per prompt")
    system_prompt: str | None = Field(None, description="replaces (or adds) the prompt's system message")
    chat_template_kwargs: dict[str, Any] = {}
    sampling: SamplingConfig = SamplingConfig()
    episodes: EpisodeOptions = EpisodeOptions()
    endpoint: EndpointConfig = EndpointConfig()
    local: LocalModelConfig = LocalModelConfig()
    scoring: ScoringConfig = ScoringConfig()

    @model_validator(mode="after")
    def _backend_fits(self) -> EvalConfig:
        if self.resolved_backend == "openai" and not self.endpoint.base_url:
            raise ValueError("backend openai needs endpoint.base_url (--base-url)")
        return self

    @property
    def resolved_backend(self) -> Backend:
        if self.backend is not None:
            return self.backend
        return "openai" if self.endpoint.base_url else "transformers"

    def env_split(self, env: EvalEnvironment) -> str | None:
        return env.split or self.split

    def env_prompts(self, env: EvalEnvironment) -> int | None:
        return env.num_prompts or self.num_prompts

    def env_rollouts(self, env: EvalEnvironment) -> int:
        return env.rollouts or self.rollouts


def run_keys(environments: Iterable[EvalEnvironment]) -> list[str]:
    """Each environment's key in this run: its name, or `name[i]` when the same name appears twice."""
    names = [env.name for env in environments]
    return [name if names.count(name) == 1 else f"{name}[{i}]" for i, name in enumerate(names)]


def parse_eval_config(data: Mapping[str, Any], overrides: Iterable[str] = ()) -> EvalConfig:
    """Validate a config mapping with `key.sub=value` overrides applied. Raises ConfigError."""
    values = apply_overrides(data, overrides)
    try:
        return EvalConfig.model_validate(values)
    except ValidationError as error:
        raise config_error(error, EvalConfig) from None


def load_eval_config(path: str | Path, overrides: Iterable[str] = ()) -> EvalConfig:
    return parse_eval_config(load_config_file(path, "--config"), overrides)


class TrainEvalConfig(Strict):
    """The trainer config's `eval` block: evaluation with the same code as `rewardkit eval`, during training.

    Metrics are logged as `eval/<env>/pass@k` (and mean, maj@k, max@k); each evaluation's rollouts are kept
    in `<run>/eval/step-N/`, a run folder that `rewardkit view` and `rewardkit export` read.
    """

    every: int = Field(gt=0, description="evaluate after every N optimizer steps, and after the last")
    environments: list[EvalEnvironment] | None = Field(
        None, description="default: the training environments, with their config and rubric"
    )
    split: str | None = Field(None, description="default: test where an environment has it, else its first")
    num_prompts: int | None = Field(64, gt=0, description="the first N prompts of each split; null: all")
    rollouts: int = Field(4, gt=0, description="rollouts per prompt")
    temperature: float | None = Field(None, ge=0.0, description="default: the training temperature")
    max_tokens: int | None = Field(None, gt=0, description="default: generation.max_new_tokens")
