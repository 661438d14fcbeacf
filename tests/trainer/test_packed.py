"""Decoding on oneDNN-packed weight copies: same results as the default path, current weights, clean exit."""

import pytest
import torch

from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend
from rewardkit.trainer.generation.packed import available, packed_linears

pytestmark = pytest.mark.skipif(not available(), reason="this torch build has no oneDNN linear kernels")


def linear(inputs: int = 256, outputs: int = 512, **kwargs) -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(inputs, outputs, **kwargs)


def test_a_packed_layer_computes_what_the_default_path_computes_and_is_restored_after():
    layer, x = linear(), torch.randn(3, 5, 256)
    expected = layer(x)
    with torch.no_grad(), packed_linears(layer) as count:
        packed = layer(x)
    assert count == 1
    assert "forward" not in layer.__dict__
    assert torch.allclose(packed, expected, atol=1e-5, rtol=1e-5)
    assert not torch.equal(packed, layer(x) * 0)  # a real product, not zeros


def test_weights_updated_in_place_by_an_optimizer_are_what_the_next_use_packs():
    layer, x = linear(), torch.randn(4, 256)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=0.1, fused=True)
    with torch.no_grad(), packed_linears(layer):
        before = layer(x)
    layer(x).square().sum().backward()
    optimizer.step()
    with torch.no_grad(), packed_linears(layer):
        after = layer(x)
    assert not torch.allclose(after, before, atol=1e-3)
    assert torch.allclose(after, layer(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "module",
    [
        linear(64, 64),  # too small to gain
        linear(dtype=torch.bfloat16),  # oneDNN's packed float32 kernel only
        type("Sub", (torch.nn.Linear,), {})(256, 512),  # a subclass may override forward
    ],
    ids=["small", "bfloat16", "subclass"],
)
def test_layers_the_packed_kernel_does_not_serve_keep_their_forward(module):
    with packed_linears(module) as count:
        assert count == 0
        assert "forward" not in module.__dict__


def test_a_call_with_gradients_enabled_is_refused_rather_than_silently_untrained():
    layer = linear()
    with packed_linears(layer), pytest.raises(RuntimeError, match="gradients enabled"):
        layer(torch.randn(2, 256))


def test_an_error_inside_the_block_still_restores_every_layer():
    model = torch.nn.Sequential(linear(), torch.nn.ReLU(), linear(512, 256))

    def fail_inside() -> None:
        with torch.no_grad(), packed_linears(model) as count:
            assert count == 2
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_the_backend_decodes_the_same_tokens_with_and_without_packing(tiny_cache, torch_threads):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.tiny import resolve_tiny

    path = resolve_tiny("tiny://qwen2?hidden=256&layers=2&heads=4&kv_heads=4")
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    with packed_linears(model) as count:
        assert count == 2 * 7 + 1  # q, k, v, o and the MLP's three matrices in each layer; the LM head
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi")]
    runs = [
        TransformersBackend(model, tokenizer, packed_cpu_weights=packed).generate(
            prompts, 4, SamplingSpec(24, temperature=1.0), seed=5
        )
        for packed in (False, True)
    ]
    assert runs[0].token_ids == runs[1].token_ids
    flat = [torch.tensor(lp) for lp in runs[0].logprobs], [torch.tensor(lp) for lp in runs[1].logprobs]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(*flat, strict=True))
