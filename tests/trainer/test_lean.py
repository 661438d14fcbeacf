"""The lean decode step computes what the model's forward computes, and is only used where it can."""

import pytest
import torch

from rewardkit.trainer.generation import lean
from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend
from rewardkit.trainer.generation.lean import LeanStep

SHAPE = {
    "vocab_size": 96,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "head_dim": 16,
    "max_position_embeddings": 256,
    "pad_token_id": 0,
    "eos_token_id": 1,
}


def build(kind: str, **overrides):
    from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config

    configs = {
        # Grouped-query attention, and every bias Llama can have.
        "llama": lambda: LlamaConfig(**SHAPE, num_key_value_heads=2, attention_bias=True, mlp_bias=True),
        "llama-rope-scaled": lambda: LlamaConfig(
            **SHAPE, num_key_value_heads=4, rope_scaling={"rope_type": "linear", "factor": 2.0}
        ),
        "mistral": lambda: MistralConfig(**SHAPE, num_key_value_heads=1, sliding_window=None),
        "qwen2": lambda: Qwen2Config(**SHAPE, num_key_value_heads=2, tie_word_embeddings=True),
    }
    config = configs[kind]()
    for key, value in overrides.items():
        setattr(config, key, value)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa").eval()
    with torch.no_grad():  # random biases and norm weights, so a dropped term shows in the logits
        for name, param in model.named_parameters():
            if name.endswith(("bias", "norm.weight")):
                param.add_(torch.randn_like(param) * 0.5)
    return model


class Tokenizer:
    pad_token_id = 0
    eos_token_id = 1


PROMPTS = [[5, 9, 14, 3, 7, 22], [8, 2], [40, 41, 42, 43]]  # left-padded to different widths


@pytest.mark.parametrize("kind", ["llama", "llama-rope-scaled", "mistral", "qwen2"])
@pytest.mark.parametrize("share_prefix", [False, True])
@pytest.mark.parametrize("prompts", [PROMPTS, [[5], [7]]], ids=["padded", "one-token"])
def test_lean_rollouts_equal_the_model_forward_rollouts(kind, share_prefix, prompts):
    model = build(kind)
    assert lean.supports(model)
    spec = SamplingSpec(20, temperature=1.0)
    backends = [
        TransformersBackend(model, Tokenizer(), share_prefix=share_prefix, lean_decode=flag)
        for flag in (True, False)
    ]
    fast, reference = (backend.generate(prompts, 3, spec, seed=11) for backend in backends)
    assert fast.token_ids == reference.token_ids
    for mine, theirs in zip(fast.logprobs, reference.logprobs, strict=True):
        assert torch.allclose(torch.tensor(mine), torch.tensor(theirs), atol=1e-5)


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_lean_step_logits_equal_the_model_forward_logits(kind):
    from transformers import DynamicCache

    model = build(kind)
    ids = torch.tensor([[0, 0, 5, 9, 14], [3, 7, 22, 8, 2]])
    mask = (ids != 0).long()
    mask[1, 0] = 1
    position = (mask.cumsum(-1) - 1).clamp(min=0)
    step_ids, step_position = torch.tensor([[17], [30]]), position[:, -1:] + 1
    full_mask = torch.cat([mask, torch.ones(2, 1, dtype=torch.long)], -1)
    with torch.no_grad():
        caches = []
        for _ in range(2):
            cache = DynamicCache(config=model.config)
            model(input_ids=ids, attention_mask=mask, position_ids=position, past_key_values=cache)
            caches.append(cache)
        expected = model(
            input_ids=step_ids,
            attention_mask=full_mask,
            position_ids=step_position,
            past_key_values=caches[0],
        ).logits[:, -1]
        got = LeanStep(model)(step_ids[:, 0], step_position, full_mask.bool()[:, None, None, :], caches[1])
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got[0], got[1])  # the rows differ: the check is not vacuous


def test_the_backend_decodes_supported_models_with_the_lean_step(monkeypatch):
    model = build("qwen2")
    calls = []
    original = LeanStep.__call__
    monkeypatch.setattr(LeanStep, "__call__", lambda self, *a: calls.append(1) or original(self, *a))
    spec = SamplingSpec(6, temperature=1.0)
    TransformersBackend(model, Tokenizer(), lean_decode=False).generate(PROMPTS, 2, spec, seed=0)
    assert calls == []
    TransformersBackend(model, Tokenizer()).generate(PROMPTS, 2, spec, seed=0)
    assert len(calls) >= 1  # every one-token step (all of them, with the shared prompt prefix)


def test_lean_step_declines_what_it_does_not_reproduce():
    assert not lean.supports(build("mistral", sliding_window=4))
    assert not lean.supports(build("llama", hidden_act="gelu"))
    remote = build("llama")
    remote.__class__ = type("LlamaForCausalLM", (type(remote),), {"__module__": "transformers_modules.x"})
    assert not lean.supports(remote)
    adapted = build("qwen2")
    layer = adapted.model.layers[0].self_attn
    layer.q_proj = type("LoraLinear", (torch.nn.Linear,), {})(64, 64)  # an adapter's linear subclass
    assert not lean.supports(adapted)
