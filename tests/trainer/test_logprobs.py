"""Log-probs in tiles from the last hidden states: the same numbers as the full logits, in bounded memory."""

import pytest
import torch

from rewardkit.trainer import rollout
from rewardkit.trainer.generation.base import Completions
from rewardkit.trainer.rollout import build_batch, chunked_logprobs_match, forward_logprobs


@pytest.fixture(scope="module")
def model(tiny_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_dir)


def _batch():
    prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]
    lengths = (3, 1, 4, 2, 1, 4, 1, 2, 3)
    tokens = [[20 + i + j for j in range(n)] for i, n in enumerate(lengths)]
    return build_batch(prompts, Completions(tokens, [[0.0] * n for n in lengths], [False] * 9), 3, 0)


def _run(model, batch, chunked, share):
    model.zero_grad()
    logp, ent = forward_logprobs(model, batch, 0.7, with_entropy=True, share_prefix=share, chunked=chunked)
    (logp * batch.completion_mask).sum().backward()
    return logp.detach(), ent, {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("share", [False, True], ids=["plain", "shared-prefix"])
def test_tiled_logprobs_equal_the_full_logits(model, monkeypatch, share):
    batch = _batch()
    full = _run(model, batch, chunked=False, share=share)
    monkeypatch.setattr(rollout, "LOGIT_TILE", 5 * 450)  # tiles of 5 tokens: several per batch
    tiled = _run(model, batch, chunked=True, share=share)
    mask = batch.completion_mask
    assert torch.allclose(full[0][mask], tiled[0][mask], atol=1e-5)
    assert torch.allclose(full[1][mask], tiled[1][mask], atol=1e-5)
    for name, grad in full[2].items():
        assert torch.allclose(grad, tiled[2][name], atol=1e-5), (name, (grad - tiled[2][name]).abs().max())


def _largest_logits(model, batch, chunked) -> tuple[int, int]:
    """The largest output of the output layer, and of the logits-shaped tensors kept for backward."""
    vocab, produced, saved = model.config.vocab_size, [0], [0]
    weights = {p.data_ptr() for p in model.parameters()}

    def pack(tensor):
        if tensor.dim() and tensor.shape[-1] == vocab and tensor.data_ptr() not in weights:
            saved.append(tensor.numel())
        return tensor

    layer = model.get_output_embeddings()
    hook = layer.register_forward_hook(lambda module, args, out: produced.append(out.numel()))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            logp, _ = forward_logprobs(model, batch, 1.0, with_entropy=True, chunked=chunked)
        logp.sum().backward()
    finally:
        hook.remove()
    return max(produced), max(saved)


def test_no_tensor_spans_all_tokens_times_the_vocabulary(model, monkeypatch):
    """The output layer sees one tile at a time, and backward keeps no [tokens, vocabulary] tensor."""
    batch = _batch()
    vocab, tokens = model.config.vocab_size, int(batch.completion_mask.sum())
    monkeypatch.setattr(rollout, "LOGIT_TILE", 5 * vocab)
    produced, saved = _largest_logits(model, batch, chunked=True)
    assert produced <= 5 * vocab and saved <= 5 * vocab
    produced, saved = _largest_logits(model, batch, chunked=False)
    assert produced >= tokens * vocab and saved >= tokens * vocab  # the model's own logits do


def test_an_output_layer_it_does_not_know_falls_back_to_the_logits(model):
    assert chunked_logprobs_match(model, 0.7)
    model.config.logit_scale = 2.0  # a scale the model's own forward does not apply: the tiles would
    try:
        assert not chunked_logprobs_match(model, 0.7)
    finally:
        del model.config.logit_scale
