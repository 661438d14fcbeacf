"""The rollout decode loop: exact sampling, truncation, greedy parity with transformers' generate."""

import pytest
import torch

from rewardkit.trainer.generation import sampling
from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend, left_pad
from rewardkit.trainer.generation.sampling import _inverse_cdf_draw, _sample


def test_inverse_cdf_draw_reproduces_the_distribution_and_never_draws_zero_mass():
    probs = torch.tensor([[0.5, 0.0, 0.3, 0.2, 0.0]]).repeat(40_000, 1)
    draws = _inverse_cdf_draw(probs, torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=5).double() / len(draws)
    assert counts[1] == 0 and counts[4] == 0
    assert torch.allclose(counts, probs[0].double(), atol=0.01)


def test_top_k_and_top_p_restrict_the_draw_but_not_the_reported_logprob():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(2_000, 1)
    generator = torch.Generator().manual_seed(1)
    for spec, allowed in ((SamplingSpec(1, top_k=2), {0, 1}), (SamplingSpec(1, top_p=0.6), {0, 1})):
        tokens, logp = _sample(logits, spec, generator)
        assert set(tokens.tolist()) == allowed
        # The log-prob is that of the untruncated tempered distribution, which the trainer computes.
        assert torch.allclose(logp, logits.log_softmax(-1).gather(-1, tokens[:, None]).squeeze(-1))


def test_temperature_scales_the_sampled_distribution():
    logits = torch.tensor([[2.0, 0.0]]).repeat(20_000, 1)
    tokens, logp = _sample(logits, SamplingSpec(1, temperature=2.0), torch.Generator().manual_seed(2))
    expected = torch.softmax(logits[0] / 2.0, -1)
    assert abs((tokens == 0).double().mean() - expected[0]) < 0.01
    assert torch.allclose(logp[tokens == 0], expected[0].log().expand((tokens == 0).sum()))


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)


@pytest.mark.parametrize("lean_decode", [False, True])
@pytest.mark.parametrize("share_prefix", [False, True])
def test_greedy_decode_equals_transformers_generate(model_and_tokenizer, share_prefix, lean_decode):
    model, tokenizer = model_and_tokenizer
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi", "Seven")]
    backend = TransformersBackend(model, tokenizer, share_prefix=share_prefix, lean_decode=lean_decode)
    ours = backend.generate(prompts, 2, SamplingSpec(16, greedy=True), seed=0)
    ids, mask = left_pad([p for p in prompts for _ in range(2)], tokenizer.pad_token_id)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=False,
            max_new_tokens=16,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=sorted(backend.eos_ids),
            return_dict_in_generate=True,
            output_logits=True,
        )
    reference = out.sequences[:, ids.shape[1] :]
    logprobs = torch.stack(out.logits, 1).log_softmax(-1).gather(-1, reference[..., None]).squeeze(-1)
    for row, (mine, theirs) in enumerate(zip(ours.token_ids, reference.tolist(), strict=True)):
        assert mine == theirs[: len(mine)] and all(t == tokenizer.pad_token_id for t in theirs[len(mine) :])
        # Log-probs too: a wrong position or mask shifts them even where the argmax survives.
        assert torch.allclose(torch.tensor(ours.logprobs[row]), logprobs[row, : len(mine)], atol=1e-5)


def test_sampling_is_reproducible_per_seed(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    backend = TransformersBackend(model, tokenizer)
    prompts = [tokenizer("What is 1 + 2?")["input_ids"]]
    spec = SamplingSpec(16, temperature=1.0)
    first, again = (backend.generate(prompts, 4, spec, seed=7) for _ in range(2))
    other = backend.generate(prompts, 4, spec, seed=8)
    assert first.token_ids == again.token_ids and first.logprobs == again.logprobs
    assert other.token_ids != first.token_ids


@pytest.mark.parametrize("share_prefix", [False, True])
def test_ready_step_masks_give_the_rollouts_of_2d_masks(model_and_tokenizer, monkeypatch, share_prefix):
    model, tokenizer = model_and_tokenizer
    assert sampling._takes_ready_masks(model.config)  # the tiny model is an sdpa model: the fast path runs
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi", "Seven")]  # left-padded
    # The model's forward takes the masks (the lean step always gets ready ones).
    backend = TransformersBackend(model, tokenizer, share_prefix=share_prefix, lean_decode=False)
    spec = SamplingSpec(12, temperature=1.0)
    ready = backend.generate(prompts, 3, spec, seed=3)
    monkeypatch.setattr(sampling, "_takes_ready_masks", lambda config: False)
    built = backend.generate(prompts, 3, spec, seed=3)
    assert ready.token_ids == built.token_ids
    assert torch.allclose(torch.tensor(ready.logprobs), torch.tensor(built.logprobs), atol=1e-6)


def test_ready_step_masks_only_for_transformers_sdpa_models_without_sliding_windows(model_and_tokenizer):
    config_class = model_and_tokenizer[0].config.__class__
    config = config_class()
    config._attn_implementation = "sdpa"
    config.layer_types = ["full_attention", "full_attention"]
    assert sampling._takes_ready_masks(config)
    config.layer_types = ["full_attention", "sliding_attention"]
    assert not sampling._takes_ready_masks(config)
    config.layer_types = ["full_attention", "full_attention"]
    config._attn_implementation = "eager"  # eager attention adds a float mask: a boolean one would be wrong
    assert not sampling._takes_ready_masks(config)
    remote = type("RemoteConfig", (config_class,), {"__module__": "transformers_modules.someone.model"})()
    remote._attn_implementation = "sdpa"  # remote code may build its own 4-D mask from the 2-D one
    assert not sampling._takes_ready_masks(remote)
