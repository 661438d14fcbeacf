"""One-token decode steps of a Llama-family transformers model as plain tensor ops over its own parameters.

Why: on a CPU, a small model's decode step costs far more in the model code's per-call work (module calls,
mask and cache bookkeeping, one kernel launch per projection) than in arithmetic. On the 130k-param
benchmark model, 16 rows, one forward call took ~1.5 ms, of which the tensor arithmetic is a fraction.
Here q/k/v and gate/up run as one matmul each, RoPE is applied to q and k together, and attention is one
`scaled_dot_product_attention` on the cache with its ready boolean mask.

The step computes exactly what the model's forward computes, in the same order (the model's own RMSNorm and
rotary modules, its KV cache): a test checks logits and sampled tokens
against the model's forward for Llama, Mistral and Qwen2 configs. Anything else (other architectures, remote
code, sliding windows, adapters or quantised layers in place of plain `nn.Linear`) keeps the model's forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from rewardkit.trainer.generation.packed import linear_fn

# (model class, decoder-layer class) pairs of transformers' own code whose decode step this module reproduces.
SUPPORTED = {
    "LlamaForCausalLM": "LlamaDecoderLayer",
    "MistralForCausalLM": "MistralDecoderLayer",
    "Qwen2ForCausalLM": "Qwen2DecoderLayer",
}

TensorFn = Callable[[torch.Tensor], torch.Tensor]  # a projection or a norm


@dataclass
class _Layer:
    norm_in: TensorFn  # the layer's own RMSNorm computations (their `forward`: no module-call machinery)
    norm_post: TensorFn
    qkv: TensorFn  # fused q/k/v projection
    q_width: int
    k_width: int
    o_proj: TensorFn
    gate_up: TensorFn  # fused gate/up projection
    down: TensorFn
    cache_index: int


def supports(model: Any) -> bool:
    """Whether `model` is one of the transformers architectures the lean step reproduces, as configured."""
    layer_class = SUPPORTED.get(type(model).__name__)
    if layer_class is None or not type(model).__module__.startswith("transformers.models."):
        return False
    config = model.config
    if getattr(config, "hidden_act", None) != "silu" or getattr(config, "pretraining_tp", 1) != 1:
        return False
    if not full_attention_only(config):
        return False
    layers = model.model.layers
    if any(type(layer).__name__ != layer_class for layer in layers):
        return False
    projections = [
        module
        for layer in layers
        for module in (*_attention_projections(layer.self_attn), *_mlp_projections(layer.mlp))
    ]
    return all(type(module) is torch.nn.Linear for module in [*projections, model.lm_head])


def full_attention_only(config: Any) -> bool:
    """No sliding-window layers: a ready mask or a plain attention over the whole cache is then exact."""
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return all(kind == "full_attention" for kind in layer_types)
    return getattr(config, "sliding_window", None) is None


class LeanStep:
    """Built per rollout, since an optimiser step changes the weights the fused copies are made of."""

    def __init__(self, model: Any, pack: bool = True) -> None:
        inner = model.model
        attention = inner.layers[0].self_attn
        self.embed = inner.embed_tokens.weight
        self.rotary = inner.rotary_emb
        self.final_norm = inner.norm.forward
        self.pack = pack  # projections on oneDNN-packed weights where large enough (see packed.py)
        self.lm_head = _projection(pack, model.lm_head)
        self.head_dim = attention.head_dim
        self.scaling = attention.scaling
        self.gqa = model.config.num_key_value_heads != model.config.num_attention_heads
        self.layers = [self._fuse(layer, index) for index, layer in enumerate(inner.layers)]

    def __call__(
        self, tokens: torch.Tensor, position: torch.Tensor, mask: torch.Tensor, cache: Any
    ) -> torch.Tensor:
        """Logits [N, V] after one token per row; `position` [N, 1], `mask` [N, 1, 1, cached + 1] boolean."""
        x = F.embedding(tokens, self.embed)  # [N, H]
        cos, sin = self.rotary(x, position)  # [N, 1, D] each
        for layer in self.layers:
            x = x + self._attend(layer, layer.norm_in(x), cos, sin, mask, cache)
            gate, up = layer.gate_up(layer.norm_post(x)).chunk(2, dim=-1)
            x = x + layer.down(F.silu(gate) * up)
        return self.lm_head(self.final_norm(x))

    def _attend(
        self,
        layer: _Layer,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor,
        cache: Any,
    ) -> torch.Tensor:
        rows = x.shape[0]
        qkv = layer.qkv(x)
        split = layer.q_width + layer.k_width
        qk = qkv[:, :split].view(rows, -1, self.head_dim)  # q heads then k heads, [N, Hq + Hk, D]
        qk = qk * cos + _rotate_half(qk) * sin
        q = qk[:, : layer.q_width // self.head_dim].unsqueeze(2)  # [N, Hq, 1, D]
        k = qk[:, layer.q_width // self.head_dim :].unsqueeze(2)
        v = qkv[:, split:].view(rows, -1, 1, self.head_dim)
        keys, values = cache.update(k, v, layer.cache_index)
        out = F.scaled_dot_product_attention(
            q, keys, values, attn_mask=mask, scale=self.scaling, enable_gqa=self.gqa
        )
        return layer.o_proj(out.reshape(rows, -1))

    def _fuse(self, layer: Any, index: int) -> _Layer:
        q, k, v = _attention_projections(layer.self_attn)[:3]
        gate, up, down = _mlp_projections(layer.mlp)
        return _Layer(
            norm_in=layer.input_layernorm.forward,
            norm_post=layer.post_attention_layernorm.forward,
            qkv=_projection(self.pack, q, k, v),
            q_width=q.out_features,
            k_width=k.out_features,
            o_proj=_projection(self.pack, layer.self_attn.o_proj),
            gate_up=_projection(self.pack, gate, up),
            down=_projection(self.pack, down),
            cache_index=index,
        )


def _attention_projections(attention: Any) -> tuple[Any, ...]:
    return attention.q_proj, attention.k_proj, attention.v_proj, attention.o_proj


def _mlp_projections(mlp: Any) -> tuple[Any, ...]:
    return mlp.gate_proj, mlp.up_proj, mlp.down_proj


def _projection(pack: bool, *modules: torch.nn.Linear) -> TensorFn:
    """One linear map computing the modules' outputs side by side (fused into one weight if several)."""
    weight = (
        torch.cat([m.weight.detach() for m in modules]) if len(modules) > 1 else modules[0].weight.detach()
    )
    bias: torch.Tensor | None = None
    if any(m.bias is not None for m in modules):
        bias = torch.cat([_bias(m) for m in modules])
    return linear_fn(weight, bias, pack)


def _bias(module: torch.nn.Linear) -> torch.Tensor:
    return module.bias.detach() if module.bias is not None else module.weight.new_zeros(module.out_features)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)
