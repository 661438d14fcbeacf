"""The decode loop's KV cache appends in place and gives exactly what transformers' DynamicLayer gives."""

import pytest
import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from rewardkit.trainer.generation import sampling
from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend
from rewardkit.trainer.generation.kv_room import RoomyLayer, make_room


def _states(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, 2, length, 4, generator=generator) for _ in range(2))  # type: ignore[return-value]


def test_decode_steps_write_into_the_reserved_room_and_match_concatenation():
    roomy, plain = RoomyLayer(room=3), DynamicLayer()
    pointers = set()
    for step, length in enumerate((5, 1, 1, 1, 1)):  # a prompt, then more steps than the room holds
        keys, values = _states(2, length, step)
        got, want = roomy.update(keys, values), plain.update(keys, values)
        assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
        pointers.add(got[0].data_ptr())
    assert roomy.get_seq_length() == plain.get_seq_length() == 9
    assert len(pointers) == 2  # filled the room of 3 once, then reserved again instead of copying every step


def test_a_reassigned_cache_is_copied_into_fresh_room():
    roomy, plain = RoomyLayer(room=4), DynamicLayer()
    for layer in (roomy, plain):
        layer.update(*_states(2, 3, 0))
        layer.batch_repeat_interleave(3)  # replaces keys and values with new tensors of 6 rows
    got, want = roomy.update(*_states(6, 1, 1)), plain.update(*_states(6, 1, 1))
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))


def test_make_room_keeps_the_cached_prompt_and_leaves_other_layer_kinds_alone():
    cache = DynamicCache()
    cache.update(*_states(2, 3, 0), layer_idx=0)
    other = type("SlidingLayer", (DynamicLayer,), {})()  # a subclass may cache differently: not touched
    cache.layers.append(other)
    make_room(cache, room=8)
    assert isinstance(cache.layers[0], RoomyLayer) and cache.layers[1] is other
    assert cache.get_seq_length() == 3


@pytest.mark.parametrize("share_prefix", [False, True])
def test_sampled_rollouts_are_identical_with_and_without_the_room(tiny_dir, monkeypatch, share_prefix):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi")]
    backend = TransformersBackend(model, tokenizer, share_prefix=share_prefix)
    spec = SamplingSpec(12, temperature=1.0)
    roomy = backend.generate(prompts, 3, spec, seed=5)
    monkeypatch.setattr(sampling, "make_room", lambda cache, room: cache)
    plain = backend.generate(prompts, 3, spec, seed=5)
    assert roomy.token_ids == plain.token_ids
    assert roomy.logprobs == plain.logprobs
