"""Shared prompt prefix and skipped zero-advantage rows: faster, and the same numbers as the plain path."""

import pytest
import torch
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer.config import parse_config
from rewardkit.trainer.generation.base import Completions, SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend
from rewardkit.trainer.loop import GRPOTrainer
from rewardkit.trainer.rollout import build_batch, forward_logprobs


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)


def _batch(pad_id):
    # Prompts of different lengths (left padding) and completions of different lengths (right padding).
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    lengths = (3, 1, 4, 2, 1, 4, 1, 2, 3)
    tokens = [[20 + i + j for j in range(n)] for i, n in enumerate(lengths)]
    return build_batch(prompts, Completions(tokens, [[0.0] * n for n in lengths], [False] * 9), 3, pad_id)


def _logprobs_and_grads(model, batch, share):
    model.zero_grad()
    logp, ent = forward_logprobs(model, batch, 0.7, with_entropy=True, share_prefix=share)
    (logp * batch.completion_mask).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    return logp.detach(), ent, grads


@pytest.mark.parametrize("rows", [slice(0, 9), torch.tensor([1, 2, 3, 5, 8])], ids=["all", "subset"])
def test_shared_prefix_gives_the_same_logprobs_entropies_and_gradients(model_and_tokenizer, rows):
    model, tokenizer = model_and_tokenizer
    batch = _batch(tokenizer.pad_token_id).rows(rows)
    plain, plain_ent, plain_grads = _logprobs_and_grads(model, batch, share=False)
    shared, shared_ent, shared_grads = _logprobs_and_grads(model, batch, share=True)
    mask = batch.completion_mask
    assert torch.allclose(plain[mask], shared[mask], atol=1e-5)
    assert torch.allclose(plain_ent[mask], shared_ent[mask], atol=1e-5)
    for name, grad in plain_grads.items():
        assert torch.allclose(grad, shared_grads[name], atol=1e-5), name


@pytest.mark.parametrize("spec", [SamplingSpec(12, greedy=True), SamplingSpec(12, temperature=0.7)])
def test_shared_prefill_generates_what_the_plain_prefill_does(model_and_tokenizer, spec):
    model, tokenizer = model_and_tokenizer
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi", "Tell me about seven")]
    plain = TransformersBackend(model, tokenizer, share_prefix=False).generate(prompts, 4, spec, seed=3)
    shared = TransformersBackend(model, tokenizer, share_prefix=True).generate(prompts, 4, spec, seed=3)
    assert shared.token_ids == plain.token_ids
    for a, b in zip(shared.logprobs, plain.logprobs, strict=True):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-5)


def _train_weights(tmp_path, loss_type):
    grpo = {"prompts_per_step": 4, "num_generations": 4, "loss_type": loss_type}
    config = parse_config(tiny_config(tmp_path, steps=3, grpo=grpo, optim={"micro_batch_size": 4}))
    trainer = GRPOTrainer(config, host=toy_host())
    result = trainer.train()
    return trainer._unwrapped().state_dict(), result.history


@pytest.mark.parametrize("loss_type", ["dapo", "bnpo"])
def test_skipping_zero_advantage_rows_changes_no_update(tmp_path, monkeypatch, loss_type):
    # bnpo averages per-micro-batch token means: skipping must not change which rows form a micro-batch
    skipped, history = _train_weights(tmp_path / "skip", loss_type)
    assert min(row["train/active_frac"] for row in history) < 1.0  # some rows were really skipped
    monkeypatch.setattr(GRPOTrainer, "_rows_with_gradient", lambda self, batch: torch.arange(len(batch)))
    every_row, history = _train_weights(tmp_path / "all", loss_type)
    assert all(row["train/active_frac"] == 1.0 for row in history)
    for name, tensor in every_row.items():
        assert torch.allclose(tensor, skipped[name], atol=1e-6), name
