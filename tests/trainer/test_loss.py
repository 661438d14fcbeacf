import math

import pytest
import torch

from rewardkit.trainer.loss import (
    Normalizer,
    aggregate,
    clip_fractions,
    k3_kl,
    policy_loss,
    selective_logprobs,
    tis_weights,
)


def test_selective_logprobs_is_log_softmax_at_temperature():
    logits = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])
    targets = torch.tensor([[2, 1]])
    out = selective_logprobs(logits, targets, temperature=2.0)
    z = math.log(math.exp(0.5) + math.exp(1.0) + math.exp(1.5))
    assert out.tolist()[0] == pytest.approx([1.5 - z, -math.log(3)])


def test_k3_kl_hand_values():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.0, -1.5])
    assert k3_kl(logp, ref).tolist() == pytest.approx([0.0, math.exp(0.5) - 0.5 - 1])


def test_clipped_objective_with_clip_higher():
    # ratios 1.5 (A=+1: clipped at 1+0.28), 0.5 (A=-1: clipped at 1-0.2), 1.1 (A=+1: inside)
    old = torch.zeros(3, 1)
    logp = torch.log(torch.tensor([[1.5], [0.5], [1.1]]))
    adv = torch.tensor([1.0, -1.0, 1.0])
    out = policy_loss(logp, old, adv, epsilon_low=0.2, epsilon_high=0.28)
    assert out.per_token.squeeze(-1).tolist() == pytest.approx([-1.28, 0.8, -1.1])
    assert out.ratio.squeeze(-1).tolist() == pytest.approx([1.5, 0.5, 1.1])
    fracs = clip_fractions(out.ratio, adv, torch.ones(3, 1, dtype=torch.bool), 0.2, 0.28)
    assert (int(fracs["clip/low"]), int(fracs["clip/high"]), int(fracs["clip/region"])) == (1, 1, 2)


def test_pessimistic_side_is_not_clipped():
    # A=-1 with ratio 1.5: min(-1.5, -1.2) keeps -1.5 -> loss 1.5 (the gradient is not cut off)
    out = policy_loss(torch.log(torch.tensor([[1.5]])), torch.zeros(1, 1), torch.tensor([-1.0]), 0.2, 0.2)
    assert out.per_token.item() == pytest.approx(1.5)


def test_kl_term_and_tis_weight():
    logp = torch.tensor([[-1.0]], requires_grad=True)
    old = torch.tensor([[-1.0]])
    ref = torch.tensor([[-0.5]])
    is_w = tis_weights(old, torch.tensor([[-1.2]]), cap=2.0)  # exp(0.2)
    out = policy_loss(logp, old, torch.tensor([2.0]), 0.2, 0.2, beta=0.1, ref_logp=ref, is_weights=is_w)
    kl = math.exp(0.5) - 0.5 - 1
    assert out.per_token.item() == pytest.approx(-2.0 * math.exp(0.2) + 0.1 * kl)
    assert out.kl.item() == pytest.approx(kl)
    # the gradient of -r*A*w at r=1 is -A*w; of beta*k3 it is beta*(1 - exp(ref - logp))
    out.per_token.sum().backward()
    assert logp.grad.item() == pytest.approx(-2.0 * math.exp(0.2) + 0.1 * (1 - math.exp(0.5)))


def test_tis_weights_are_truncated():
    w = tis_weights(torch.tensor([0.0, 0.0]), torch.tensor([-5.0, 0.1]), cap=2.0)
    assert w.tolist() == pytest.approx([2.0, math.exp(-0.1)])


def test_beta_without_reference_is_an_error():
    with pytest.raises(ValueError, match="reference"):
        policy_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1), 0.2, 0.2, beta=0.1)


# Two sequences, lengths 1 and 3, per-token losses below; padding values must never count.
LOSS = torch.tensor([[2.0, 99.0, 99.0], [1.0, 2.0, 3.0]])
MASK = torch.tensor([[True, False, False], [True, True, True]])


@pytest.mark.parametrize(
    ("loss_type", "expected"),
    [
        ("grpo", (2.0 + 2.0) / 2),  # mean of sequence means (2 and 2)
        ("bnpo", 8.0 / 4),  # token mean in the micro-batch
        ("dr_grpo", 8.0 / (2 * 5)),  # sum / (sequences * max_completion_length=5)
        ("dapo", 8.0 / 4),  # sum / tokens in the whole step
    ],
)
def test_aggregation_hand_values(loss_type, expected):
    norm = Normalizer(sequences=2, tokens=4, max_completion_length=5, micro_batches=1)
    assert aggregate(LOSS, MASK, loss_type, norm).item() == pytest.approx(expected)


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_micro_batches_sum_to_the_full_batch_loss(loss_type):
    full = Normalizer(sequences=2, tokens=4, max_completion_length=5, micro_batches=1)
    split = Normalizer(sequences=2, tokens=4, max_completion_length=5, micro_batches=2)
    whole = aggregate(LOSS, MASK, loss_type, full)
    parts = aggregate(LOSS[:1], MASK[:1], loss_type, split) + aggregate(LOSS[1:], MASK[1:], loss_type, split)
    assert parts.item() == pytest.approx(whole.item())


def test_bnpo_averages_micro_batch_token_means():
    split = Normalizer(sequences=2, tokens=4, max_completion_length=5, micro_batches=2)
    parts = aggregate(LOSS[:1], MASK[:1], "bnpo", split) + aggregate(LOSS[1:], MASK[1:], "bnpo", split)
    assert parts.item() == pytest.approx((2.0 + 2.0) / 2)
