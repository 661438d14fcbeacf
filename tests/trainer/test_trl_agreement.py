"""rewardkit's optimizer-step gradient against TRL's `GRPOTrainer.compute_loss` on one fixed rollout.

Both sides start from the same weights and see the same tokens, advantages and reference log-probs; TRL runs
its own loss over the same micro-batches with its gradient accumulation. Every loss type both trainers have
(gspo is TRL's grpo at importance_sampling_level="sequence"), beta 0 and > 0 with either KL estimator,
mu = 1 and 2 (the second iteration after the weights moved, against the first iteration's log-probs), with and
without masked (truncated) rows. Where they differ on purpose (a completion without a reward), see
`test_a_completion_without_reward_leaves_the_batch` and docs/trainer.md.
"""

from __future__ import annotations

import copy

import pytest
import torch
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer.config import parse_config
from rewardkit.trainer.data import Prompt
from rewardkit.trainer.generation.base import Completions
from rewardkit.trainer.loop import GRPOTrainer
from rewardkit.trainer.rollout import build_batch
from rewardkit.types import RewardResult, Sample

pytestmark = pytest.mark.usefixtures("tiny_dir")

G, MICRO, MAX_NEW, TEMPERATURE = 4, 4, 6, 0.7
PROMPTS = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]  # left padding: lengths differ
LENGTHS = [3, 6, 2, 6, 4, 1, 6, 5, 2, 3, 6, 4]
# Group 2 has no reward spread: with beta 0 rewardkit skips its rows, TRL runs them with advantage 0.
REWARDS = [1.0, 0.0, 0.5, 0.25, 0.5, 0.5, 0.5, 0.5, 0.0, 1.0, 0.75, 0.25]
TRUNCATED = [n == MAX_NEW for n in LENGTHS]  # 4 rows; masked when mask_truncated_completions is on
CASES = [
    *[(loss, 0.0, "k3") for loss in ("grpo", "dr_grpo", "dapo", "bnpo", "gspo", "cispo")],
    *[(loss, 0.1, "k3") for loss in ("grpo", "dr_grpo", "dapo", "bnpo", "gspo", "cispo")],
    *[(loss, 0.1, "k3_is") for loss in ("grpo", "dapo", "gspo")],
]


@pytest.fixture(scope="module")
def trl():
    pytest.importorskip("trl")
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    return GRPOConfig, GRPOTrainer, Dataset, AutoTokenizer


def _rollout(trainer: GRPOTrainer, masked: bool):
    tokens = [[30 + i + j for j in range(n)] for i, n in enumerate(LENGTHS)]
    completions = Completions(tokens, [[0.0] * n for n in LENGTHS], TRUNCATED if masked else [False] * 12)
    batch = build_batch(PROMPTS, completions, G, trainer.tokenizer.pad_token_id)
    prompts = [Prompt("toy.tags", Sample(id=f"p{i // G}", prompt=[])) for i in range(12)]
    trainer._score_batch(batch, [RewardResult(score=r) for r in REWARDS], prompts)
    if trainer.config.grpo.beta > 0:
        batch.ref_logp = trainer._reference_logprobs(batch)
    return batch


def _plain_logprobs(model, batch) -> torch.Tensor:
    """The test's own log-probs: the model's full logits, log-softmax at the temperature."""
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    logits = logits[:, batch.prompt_width - 1 : -1].float() / TEMPERATURE
    targets = batch.input_ids[:, batch.prompt_width :]
    return torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def _clip(loss_type: str) -> tuple[float, float]:
    # GSPO clips a sequence's mean token ratio, which moves far less than single tokens: its paper's range.
    return (3e-4, 4e-4) if loss_type == "gspo" else (0.2, 0.28)


def _trl_trainer(trl, model, tokenizer, loss_type, beta, kl_estimator, tmp_path):
    GRPOConfig, GRPOTrainer, Dataset, _ = trl
    low, high = _clip(loss_type)
    config = GRPOConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=MICRO,
        gradient_accumulation_steps=12 // MICRO,
        num_generations=G,
        max_completion_length=MAX_NEW,
        temperature=TEMPERATURE,
        loss_type="grpo" if loss_type == "gspo" else loss_type,
        importance_sampling_level="sequence" if loss_type == "gspo" else "token",
        epsilon=low,
        epsilon_high=5.0 if loss_type == "cispo" else high,
        beta=beta,
        use_bias_correction_kl=kl_estimator == "k3_is",
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=lambda completions, **kwargs: [0.0] * len(completions),
        args=config,
        train_dataset=Dataset.from_list([{"prompt": "unused"}] * 12),
        processing_class=tokenizer,
    )
    trainer.current_gradient_accumulation_steps = 12 // MICRO  # set by Trainer's loop; we call the loss
    return trainer


def _trl_step(trainer, model, batch, old_logp, ref_logp) -> float:
    """TRL's loss over the same micro-batches, gradients accumulated as its training step does."""
    completion_mask = batch.completion_mask & batch.trainable.unsqueeze(-1)  # TRL zeroes masked rows
    model.zero_grad(set_to_none=True)
    total = 0.0
    for rows in torch.arange(12).split(MICRO):
        inputs = {
            "prompt_ids": batch.input_ids[rows, : batch.prompt_width],
            "prompt_mask": batch.attention_mask[rows, : batch.prompt_width],
            "completion_ids": batch.input_ids[rows, batch.prompt_width :],
            "completion_mask": completion_mask[rows].long(),
            "advantages": batch.advantages[rows],
            "num_items_in_batch": completion_mask.sum(),
        }
        if old_logp is not None:
            inputs["old_per_token_logps"] = old_logp[rows]
        if ref_logp is not None:
            inputs["ref_per_token_logps"] = ref_logp[rows]
        loss = trainer.compute_loss(model, inputs)
        loss.backward()
        total += float(loss.detach())
    return total


def _relative_gap(rk_model, trl_model) -> float:
    ours = torch.cat([p.grad.flatten() for _, p in sorted(rk_model.named_parameters())])
    theirs = torch.cat([p.grad.flatten() for _, p in sorted(trl_model.named_parameters())])
    return float((ours - theirs).norm() / theirs.norm())


def _move(model, seed: int) -> None:
    """The weights after an optimizer step (any step: both sides get the same weights)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=generator) * 0.02)


@pytest.mark.parametrize("masked", [False, True], ids=["all-rows", "masked-rows"])
@pytest.mark.parametrize(("loss_type", "beta", "kl_estimator"), CASES, ids=str)
def test_gradient_equals_trls_for_mu_1_and_2(trl, tmp_path, loss_type, beta, kl_estimator, masked):
    grpo = {
        "prompts_per_step": 3,
        "num_generations": G,
        "loss_type": loss_type,
        "beta": beta,
        "kl_estimator": kl_estimator,
        "epsilon": _clip(loss_type)[0],
        "epsilon_high": _clip(loss_type)[1],
        "num_iterations": 2,
        "tis_cap": None,
        "mask_truncated_completions": masked,
    }
    config = tiny_config(
        tmp_path,
        grpo=grpo,
        generation={"max_new_tokens": MAX_NEW, "temperature": TEMPERATURE},
        optim={"micro_batch_size": MICRO},
    )
    ours = GRPOTrainer(parse_config(config), host=toy_host())
    policy = ours._unwrapped()
    batch = _rollout(ours, masked)
    theirs_model = copy.deepcopy(policy)
    theirs = _trl_trainer(trl, theirs_model, ours.tokenizer, loss_type, beta, kl_estimator, tmp_path)
    start = _plain_logprobs(theirs_model, batch)
    ref = start if beta > 0 else None
    if ref is not None:
        mask = batch.completion_mask
        assert torch.allclose(batch.ref_logp[mask], ref[mask], atol=1e-5)

    # mu = 1, or the first iteration of mu = 2: old log-probs are the current ones
    policy.zero_grad(set_to_none=True)
    first = ours.accumulate_gradients(batch, first=True)
    trl_first = _trl_step(theirs, theirs_model, batch, None, ref)
    gap_first = _relative_gap(policy, theirs_model)
    assert gap_first < 2e-6, gap_first
    assert first["loss"] == pytest.approx(trl_first, rel=1e-5, abs=1e-7)
    ran = ours._rows_with_gradient(batch)  # the rows the second iteration uses old log-probs of
    cached = batch.completion_mask[ran]
    assert torch.allclose(batch.old_logp[ran][cached], start[ran][cached], atol=1e-5)

    # the second iteration: the weights have moved; old log-probs are the first iteration's
    _move(policy, seed=1)
    _move(theirs_model, seed=1)
    policy.zero_grad(set_to_none=True)
    second = ours.accumulate_gradients(batch, first=False)
    old = batch.old_logp.clone()
    old[~batch.completion_mask] = 0.0
    trl_second = _trl_step(theirs, theirs_model, batch, old, ref)
    gap_second = _relative_gap(policy, theirs_model)
    print(f"{loss_type} beta={beta} {kl_estimator} masked={masked}: {gap_first:.1e} {gap_second:.1e}")
    assert gap_second < 2e-6, gap_second
    assert second["loss"] == pytest.approx(trl_second, rel=1e-5, abs=1e-7)
    assert second["clip/region"] > 0 or loss_type == "cispo"  # the moved weights do reach the clip


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_a_completion_without_reward_leaves_the_batch(trl, tmp_path, loss_type):
    """The one intended difference: TRL keeps a completion whose reward is None in the batch with advantage
    0 (it counts in grpo's 1/N and dapo's token count); rewardkit drops it, so a reward outage does not
    shrink the others' update. dr_grpo's constant normaliser counts every completion on both sides."""
    grpo = {"prompts_per_step": 3, "num_generations": G, "loss_type": loss_type, "tis_cap": None}
    generation = {"max_new_tokens": MAX_NEW, "temperature": TEMPERATURE}
    ours = GRPOTrainer(parse_config(tiny_config(tmp_path, grpo=grpo, generation=generation)), host=toy_host())
    policy = ours._unwrapped()
    tokens = [[30 + i + j for j in range(n)] for i, n in enumerate(LENGTHS)]
    batch = build_batch(PROMPTS, Completions(tokens, [[0.0] * n for n in LENGTHS], [False] * 12), G, 0)
    prompts = [Prompt("toy.tags", Sample(id=f"p{i // G}", prompt=[])) for i in range(12)]
    ours._score_batch(
        batch, [RewardResult(score=None)] + [RewardResult(score=r) for r in REWARDS[1:]], prompts
    )
    assert not batch.trainable[0] and batch.advantages[0] == 0
    theirs_model = copy.deepcopy(policy)
    theirs = _trl_trainer(trl, theirs_model, ours.tokenizer, loss_type, 0.0, "k3", tmp_path)
    policy.zero_grad(set_to_none=True)
    ours.accumulate_gradients(batch, first=True)
    with_row = copy.copy(batch)
    with_row.trainable = torch.ones(12, dtype=torch.bool)  # TRL: the row stays, advantage 0
    _trl_step(theirs, theirs_model, with_row, None, None)
    factor = {"grpo": 12 / 11, "dr_grpo": 1.0, "dapo": sum(LENGTHS) / sum(LENGTHS[1:])}[loss_type]
    for _, p in theirs_model.named_parameters():
        p.grad *= factor
    assert _relative_gap(policy, theirs_model) < 2e-6
