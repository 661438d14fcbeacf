"""Loading the policy, the frozen reference (only when beta > 0) and the tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from rewardkit.errors import ConfigError
from rewardkit.trainer.config import ModelConfig
from rewardkit.trainer.tiny import is_tiny, resolve_tiny

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Models:
    policy: PreTrainedModel  # a peft model when LoRA is on
    reference: PreTrainedModel | None  # None when beta == 0, or with LoRA (adapter disabled = reference)
    tokenizer: PreTrainedTokenizerBase
    source_dir: str  # where the base weights came from (HF id or local dir): vLLM loads the same
    max_positions: int | None  # the model's position limit (max_position_embeddings), where it has one


def resolve_model_path(config: ModelConfig) -> str:
    return str(resolve_tiny(config.path)) if is_tiny(config.path) else config.path


def load_tokenizer(path: str, config: ModelConfig) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(
        path, revision=config.revision, trust_remote_code=config.trust_remote_code
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_models(config: ModelConfig, beta: float, weights_dir: str | Path | None = None) -> Models:
    """Load everything the loop needs. `weights_dir` (a checkpoint) overrides the policy weights."""
    hf_logging.disable_progress_bar()
    source = resolve_model_path(config)
    tokenizer = load_tokenizer(source, config)
    policy = _load_policy(source, config, weights_dir)
    reference = None
    if beta > 0 and config.lora is None:
        reference = _load_causal_lm(source, config).eval().requires_grad_(False)
    text_config = policy.config.get_text_config()
    return Models(policy, reference, tokenizer, source, getattr(text_config, "max_position_embeddings", None))


def _load_causal_lm(path: str | Path, config: ModelConfig) -> PreTrainedModel:
    revision = config.revision if str(path) == config.path else None
    try:
        model_config = AutoConfig.from_pretrained(
            path, revision=revision, trust_remote_code=config.trust_remote_code
        )
        if config.disable_dropout:
            _zero_dropout_settings(model_config)
        model = AutoModelForCausalLM.from_pretrained(
            path,
            config=model_config,
            dtype=DTYPES[config.dtype],
            revision=revision,
            trust_remote_code=config.trust_remote_code,
            attn_implementation=attention_implementation(model_config, config.attn_implementation),
        )
    except (OSError, ImportError, ValueError) as error:
        # With a kernel asked for, an ImportError / ValueError is about it (flash-attn not installed...).
        if config.attn_implementation is not None and not isinstance(error, OSError):
            raise ConfigError(f"model.attn_implementation: {error}") from None
        raise ConfigError(f"model.path: cannot load {str(path)!r}: {error}") from None
    if config.disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return model


def attention_implementation(model_config: PretrainedConfig, requested: str | None) -> str | None:
    """The attention kernel to load with. Soft-capped attention (Gemma 2) needs one that applies the cap:
    sdpa silently drops it, so eager is chosen when none is requested and sdpa is refused."""
    softcap = getattr(model_config.get_text_config(), "attn_logit_softcapping", None)
    if softcap is None:
        return requested
    if requested is None:
        return "eager"
    if requested == "sdpa":
        raise ConfigError(
            f"model.attn_implementation: sdpa ignores this model's attention logit soft-capping "
            f"({softcap}); use eager, flash_attention_2 or flex_attention"
        )
    return requested


def _zero_dropout_settings(model_config: PretrainedConfig) -> None:
    """Dropout rates that models read from their config at build time (attention_dropout, resid_pdrop...),
    which no nn.Dropout module exposes: with them at 0, log-probs of the same tokens are the same in train
    mode (gradient checkpointing needs train mode, so eval mode is no way out)."""
    for config in {id(c): c for c in (model_config, model_config.get_text_config())}.values():
        for name, value in list(vars(config).items()):
            if (name.endswith("dropout") or name.endswith("pdrop")) and isinstance(value, float):
                setattr(config, name, 0.0)


def _load_policy(source: str, config: ModelConfig, weights_dir: str | Path | None) -> Any:
    if config.lora is None:
        model = _load_causal_lm(weights_dir or source, config)
    else:
        model = _with_lora(_load_causal_lm(source, config), config, weights_dir)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model.train()


def _with_lora(model: PreTrainedModel, config: ModelConfig, weights_dir: str | Path | None) -> Any:
    from peft import LoraConfig, PeftModel, get_peft_model

    assert config.lora is not None
    if weights_dir is not None:
        policy = PeftModel.from_pretrained(model, str(weights_dir), is_trainable=True)
        # Checkpoints name the base as the run config does (`tiny://...`); peft reads it back when saving.
        for adapter in policy.peft_config.values():
            adapter.base_model_name_or_path = model.name_or_path
        return policy
    lora = LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)
