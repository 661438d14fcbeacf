"""The policy's weights as a saved Hugging Face checkpoint holds them: what is pushed into a vLLM engine.

A push must name and shape every tensor the way the checkpoint vLLM loaded did, whatever wraps the policy:

* tied weights once (Gemma2's `lm_head` is its embedding: vLLM has no `lm_head` to load into), and no
  non-persistent buffers (rotary `inv_freq`): `named_parameters()` plus the persistent buffers;
* sharded training gathered to full tensors: FSDP2 parameters are DTensors (`full_tensor()`); FSDP1 runs
  inside `summon_full_params`; DeepSpeed ZeRO-3 parameters are gathered with `GatheredParameters`, one
  tensor at a time, so a push never holds more than one extra full tensor of a ZeRO-3 model;
* wrapper segments out of the names (`_fsdp_wrapped_module.`, `_checkpoint_wrapped_module.`, peft's
  `base_model.model.` and `.base_layer.`);
* LoRA merged: each adapted weight is pushed as `base + delta` computed with peft's `get_delta_weight`,
  without merging into the trained weights (merging and unmerging in place changes them by rounding).

Iterating is a collective under sharding: every process must iterate, in the same order, even where only
one process sends.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import torch

# Segments that wrappers insert into parameter names and that a checkpoint does not have.
WRAPPER_SEGMENTS = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")
_MODULES_TO_SAVE = re.compile(r"\.modules_to_save\.[^.]+\.")
_ADAPTER_ONLY = (".lora_", ".original_module.")


class PolicyWeights:
    """Re-iterable `(checkpoint name, full tensor)` pairs of `model`; `wrapped` is the accelerate-prepared
    module (FSDP1 gathers through it)."""

    def __init__(self, model: Any, wrapped: Any = None) -> None:
        self.model = model
        self.wrapped = wrapped
        self._buffers: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        buffers = self._persistent_buffers()  # before gathering: FSDP1 builds no state dict while summoned
        with _fsdp1_full_parameters(self.wrapped), torch.no_grad():
            lora = _lora_layers(self.model)
            for raw, tensor in self._tensors(buffers):
                name = checkpoint_name(raw)
                if name is None:
                    continue
                layer = lora.get(raw)
                with _zero3_gathered(tensor, layer):
                    full = _full(tensor)
                    if layer is not None:
                        full = full + _lora_delta(layer).to(full.dtype)
                    yield name, full.detach()

    def _tensors(self, persistent: list[str]) -> Iterator[tuple[str, torch.Tensor]]:
        yield from self.model.named_parameters()  # each shared (tied) parameter once
        buffers = dict(self.model.named_buffers())
        for name in persistent:
            yield name, buffers[name]

    def _persistent_buffers(self) -> list[str]:
        if self._buffers is None:  # the state dict's keys name exactly the persistent ones
            saved = {checkpoint_name(key) for key in self.model.state_dict()}
            self._buffers = [n for n, _ in self.model.named_buffers() if checkpoint_name(n) in saved]
        return self._buffers


def checkpoint_name(name: str) -> str | None:
    """The checkpoint key of a parameter or buffer name, or None for adapter-only tensors (LoRA A/B)."""
    for segment in WRAPPER_SEGMENTS:
        name = name.replace(segment, "")
    if any(part in name for part in _ADAPTER_ONLY):
        return None
    name = name.removeprefix("base_model.model.").replace(".base_layer.", ".")
    return _MODULES_TO_SAVE.sub(".", name)


def _lora_layers(model: Any) -> dict[str, Any]:
    """peft LoRA layers that are not merged, keyed by their base weight's parameter name."""
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:
        return {}
    return {
        f"{name}.base_layer.weight": module
        for name, module in model.named_modules()
        if isinstance(module, LoraLayer) and not module.merged and module.active_adapters
    }


def _lora_delta(layer: Any) -> torch.Tensor:
    deltas = [_full(layer.get_delta_weight(name)) for name in layer.active_adapters if name in layer.lora_A]
    return torch.stack(deltas).sum(0)


def _full(tensor: torch.Tensor) -> torch.Tensor:
    """An FSDP2 shard (DTensor) gathered to the full tensor; any other tensor as it is."""
    full_tensor = getattr(tensor, "full_tensor", None)
    return full_tensor() if callable(full_tensor) else tensor


def _zero3_gathered(tensor: torch.Tensor, lora_layer: Any) -> contextlib.AbstractContextManager[Any]:
    if not hasattr(tensor, "ds_id"):  # DeepSpeed marks ZeRO-3-partitioned parameters with it
        return contextlib.nullcontext()
    import deepspeed

    params = [tensor, *(lora_layer.parameters() if lora_layer is not None else ())]
    return deepspeed.zero.GatheredParameters(params, modifier_rank=None)


def _fsdp1_full_parameters(wrapped: Any) -> contextlib.AbstractContextManager[Any]:
    if wrapped is None:
        return contextlib.nullcontext()
    from torch.distributed.fsdp import FullyShardedDataParallel

    if not isinstance(wrapped, FullyShardedDataParallel):
        return contextlib.nullcontext()
    return FullyShardedDataParallel.summon_full_params(wrapped, recurse=True, writeback=False)
