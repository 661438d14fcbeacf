import math

import pytest
import torch

from rewardkit.trainer.loss import (
    LossSpec,
    StepTotals,
    aggregate,
    clip_fractions,
    k3_kl,
    policy_loss,
    row_weights,
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


ONE = torch.ones(3, 1, dtype=torch.bool)


def test_clipped_objective_with_clip_higher():
    # ratios 1.5 (A=+1: clipped at 1+0.28), 0.5 (A=-1: clipped at 1-0.2), 1.1 (A=+1: inside)
    old = torch.zeros(3, 1)
    logp = torch.log(torch.tensor([[1.5], [0.5], [1.1]]))
    adv = torch.tensor([1.0, -1.0, 1.0])
    spec = LossSpec("grpo", epsilon_low=0.2, epsilon_high=0.28)
    out = policy_loss(logp, old, adv, ONE, spec)
    assert out.per_token.squeeze(-1).tolist() == pytest.approx([-1.28, 0.8, -1.1])
    assert out.ratio.squeeze(-1).tolist() == pytest.approx([1.5, 0.5, 1.1])
    fracs = clip_fractions(out.ratio, adv, ONE, spec)
    assert (int(fracs["clip/low"]), int(fracs["clip/high"]), int(fracs["clip/region"])) == (1, 1, 2)


def test_pessimistic_side_is_not_clipped():
    # A=-1 with ratio 1.5: min(-1.5, -1.2) keeps -1.5 -> loss 1.5 (the gradient is not cut off)
    logp, one = torch.log(torch.tensor([[1.5]])), torch.ones(1, 1, dtype=torch.bool)
    out = policy_loss(logp, torch.zeros(1, 1), torch.tensor([-1.0]), one, LossSpec("dapo"))
    assert out.per_token.item() == pytest.approx(1.5)


def test_kl_term_and_tis_weight():
    logp = torch.tensor([[-1.0]], requires_grad=True)
    old = torch.tensor([[-1.0]])
    ref = torch.tensor([[-0.5]])
    is_w = tis_weights(old, torch.tensor([[-1.2]]), cap=2.0)  # exp(0.2)
    spec = LossSpec("dapo", beta=0.1)
    out = policy_loss(logp, old, torch.tensor([2.0]), ONE[:1], spec, ref_logp=ref, is_weights=is_w)
    kl = math.exp(0.5) - 0.5 - 1
    assert out.per_token.item() == pytest.approx(-2.0 * math.exp(0.2) + 0.1 * kl)
    assert out.kl.item() == pytest.approx(kl)
    # the gradient of -r*A*w at r=1 is -A*w; of beta*k3 it is beta*(1 - exp(ref - logp))
    out.per_token.sum().backward()
    assert logp.grad.item() == pytest.approx(-2.0 * math.exp(0.2) + 0.1 * (1 - math.exp(0.5)))


def test_importance_weighted_kl_adds_the_ratio_gradient():
    # k3_is = r * k3 with r = exp(logp - old): at r = 1 the value is k3's, the gradient gains k3 * dr/dlogp
    logp = torch.tensor([[-1.0]], requires_grad=True)
    ref, one = torch.tensor([[-0.5]]), ONE[:1]
    spec = LossSpec("dapo", beta=0.1, kl_estimator="k3_is")
    out = policy_loss(logp, logp.detach(), torch.tensor([0.0]), one, spec, ref_logp=ref)
    kl = math.exp(0.5) - 0.5 - 1
    assert out.kl.item() == pytest.approx(kl)
    out.per_token.sum().backward()
    assert logp.grad.item() == pytest.approx(0.1 * (kl + 1 - math.exp(0.5)))


def test_gspo_clips_one_ratio_per_sequence():
    # token log-ratios (0.4, 0.2) and padding: the sequence ratio is exp(mean) = exp(0.3), clipped at 1.2
    logp = torch.tensor([[0.4, 0.2, 9.0], [-0.1, 0.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    out = policy_loss(logp, torch.zeros(2, 3), torch.tensor([1.0, -1.0]), mask, LossSpec("gspo"))
    assert out.ratio[0].tolist() == pytest.approx([math.exp(0.3)] * 3)
    assert out.ratio[1, 0].item() == pytest.approx(math.exp(-0.1))
    assert out.per_token[0, 0].item() == pytest.approx(-1.2)  # clipped: no gradient
    assert out.per_token[1, 0].item() == pytest.approx(math.exp(-0.1))  # A < 0, r > 0.8: inside
    (out.per_token * mask).sum().backward()
    assert logp.grad[0].tolist() == [0.0, 0.0, 0.0]
    # d/dlogp_0 of -r A with r = exp(logp_0 / 1) (one token): r
    assert logp.grad[1, 0].item() == pytest.approx(math.exp(-0.1))


def test_cispo_keeps_a_gradient_where_clipping_would_drop_it():
    # ratio 3 with A = +1: clipped losses give no gradient; cispo's weight is min(3, cap) = 3, detached
    logp = torch.tensor([[math.log(3.0)]], requires_grad=True)
    spec = LossSpec("cispo", cispo_max_ratio=2.5)
    out = policy_loss(logp, torch.zeros(1, 1), torch.tensor([1.0]), ONE[:1], spec)
    assert out.per_token.item() == pytest.approx(-2.5 * math.log(3.0))
    out.per_token.sum().backward()
    assert logp.grad.item() == pytest.approx(-2.5)  # -w * A, w detached at the cap
    fracs = clip_fractions(out.ratio, torch.tensor([1.0]), ONE[:1], spec)
    assert int(fracs["clip/high"]) == 1


def test_beta_without_reference_is_an_error():
    with pytest.raises(ValueError, match="reference"):
        policy_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1), ONE[:1], LossSpec(beta=0.1))


# Three completions, lengths 1, 3 and 2; per-token losses below; padding values must never count.
LOSS = torch.tensor([[2.0, 99.0, 99.0], [1.0, 2.0, 3.0], [4.0, 4.0, 99.0]])
MASK = torch.tensor([[True, False, False], [True, True, True], [True, True, False]])
TOTALS = StepTotals(completions=3, counted=3, tokens=6, micro_batches=1)


@pytest.mark.parametrize(
    ("loss_type", "expected"),
    [
        ("grpo", (2.0 + 2.0 + 4.0) / 3),  # mean of sequence means
        ("gspo", (2.0 + 2.0 + 4.0) / 3),
        ("bnpo", 16.0 / 6),  # token mean in the one micro-batch
        ("dr_grpo", 16.0 / (3 * 5)),  # sum / (completions * max_completion_length=5)
        ("dapo", 16.0 / 6),  # sum / tokens in the whole step
        ("cispo", 16.0 / 6),
    ],
)
def test_aggregation_hand_values(loss_type, expected):
    weights = row_weights(loss_type, MASK, TOTALS, max_completion_length=5, micro_batch_size=3)
    assert aggregate(LOSS, MASK, weights).item() == pytest.approx(expected)


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo", "bnpo", "gspo", "cispo"])
def test_rows_sum_to_the_step_loss_in_any_grouping(loss_type):
    """Weights are fixed for the step, so any split of the rows (micro-batches, skipped rows) adds up."""
    weights = row_weights(loss_type, MASK, TOTALS, max_completion_length=5, micro_batch_size=2)
    whole = aggregate(LOSS, MASK, weights)
    parts = sum(aggregate(LOSS[i : i + 1], MASK[i : i + 1], weights[i : i + 1]) for i in (2, 0, 1))
    assert parts.item() == pytest.approx(whole.item())


def test_bnpo_averages_the_token_means_of_its_micro_batches():
    # micro-batches of 2 rows: [row0, row1] has 4 tokens summing to 8; [row2] 2 tokens summing to 8
    totals = StepTotals(completions=3, counted=3, tokens=6, micro_batches=2)
    weights = row_weights("bnpo", MASK, totals, max_completion_length=5, micro_batch_size=2)
    assert aggregate(LOSS, MASK, weights).item() == pytest.approx((8.0 / 4 + 8.0 / 2) / 2)


@pytest.mark.parametrize(
    ("counted", "expected"),
    [
        # row 1 masked (truncated): grpo still averages over 3 completions (TRL, the 1/G of the definition)
        (3, {"grpo": (2.0 + 4.0) / 3, "dr_grpo": 10.0 / 15, "dapo": 10.0 / 3}),
        # row 1 dropped (no reward): grpo averages over the 2 counted; dr_grpo's constant keeps all 3
        (2, {"grpo": (2.0 + 4.0) / 2, "dr_grpo": 10.0 / 15, "dapo": 10.0 / 3}),
    ],
    ids=["masked", "dropped"],
)
def test_a_row_outside_the_loss_mask_in_each_normaliser(counted, expected):
    mask = MASK.clone()
    mask[1] = False
    totals = StepTotals(completions=3, counted=counted, tokens=3, micro_batches=1)
    for loss_type, value in expected.items():
        weights = row_weights(loss_type, mask, totals, max_completion_length=5, micro_batch_size=3)
        assert aggregate(LOSS, mask, weights).item() == pytest.approx(value), loss_type
