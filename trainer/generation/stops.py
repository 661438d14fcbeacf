"""When a completion ends: one stop set, computed once and handed to every backend, so both stop alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def stop_token_ids(tokenizer: Any, generation_config: Any = None, extra: Iterable[int] = ()) -> list[int]:
    """The tokenizer's eos, every eos of the model's generation config (Llama-3-Instruct lists three), the
    pad token where it is a special token the model can emit (Qwen's `<|endoftext|>`; a plain vocabulary
    word used as padding must not end completions), and `extra` ids from the run config."""
    ids: set[int] = set(extra)
    ids.update(_as_ids(getattr(tokenizer, "eos_token_id", None)))
    ids.update(_as_ids(getattr(generation_config, "eos_token_id", None)))
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is not None and pad in set(getattr(tokenizer, "all_special_ids", ())):
        ids.add(int(pad))
    return sorted(ids)


def _as_ids(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]
