import pytest
import torch

from rewardkit.errors import ConfigError
from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.rollout import build_batch, forward_logprobs
from rewardkit.trainer.tiny import TAGS, parse_tiny


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)


def test_tiny_model_shape_fits_vllm_cpu(model_and_tokenizer):
    model, _ = model_and_tokenizer
    assert not model.config.tie_word_embeddings
    assert model.config.hidden_size // model.config.num_attention_heads >= 32
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 200_000


def test_tiny_tokenizer_round_trips_and_keeps_tags(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    text = "<think>7 + 3 = 10, Über café!</think>\n<answer>10</answer>"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    for tag in TAGS:  # single, non-special tokens: they survive skip_special_tokens
        assert len(tokenizer(tag)["input_ids"]) == 1
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_url_errors_name_the_field():
    with pytest.raises(ConfigError, match=r"model\.path: unknown tiny-model option 'width'"):
        parse_tiny("tiny://qwen2?width=3")
    with pytest.raises(ConfigError, match="head_dim limit"):
        parse_tiny("tiny://qwen2?hidden=64&heads=4")


def test_generation_logprobs_match_the_trainer_and_are_reproducible(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    backend = TransformersBackend(model, tokenizer)
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi")]
    stops = tuple(stop_token_ids(tokenizer, model.generation_config))
    spec = SamplingSpec(max_new_tokens=12, temperature=0.7, stop_token_ids=stops)
    first = backend.generate(prompts, n=3, spec=spec, seed=5)
    again = backend.generate(prompts, n=3, spec=spec, seed=5)
    assert first.token_ids == again.token_ids and len(first) == 6
    for tokens, truncated in zip(first.token_ids, first.truncated, strict=True):
        assert truncated == (len(tokens) == 12 and tokens[-1] not in stops)
    batch = build_batch(prompts, first, 3, tokenizer.pad_token_id)
    with torch.no_grad():
        logp, _ = forward_logprobs(model, batch, temperature=0.7)
    sampled = batch.sampling_logp[batch.completion_mask]
    assert torch.allclose(logp[batch.completion_mask], sampled, atol=1e-4)


def test_micro_batch_rows_trim_padding_columns(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    from rewardkit.trainer.generation.base import Completions

    comps = Completions([[5, 6, 7], [8]], [[-1.0, -1.0, -1.0], [-2.0]], [True, False])
    batch = build_batch([[1, 2], [3]], comps, 1, tokenizer.pad_token_id)
    assert batch.input_ids.tolist() == [[1, 2, 5, 6, 7], [0, 3, 8, 0, 0]]
    part = batch.rows(slice(1, 2))
    assert part.input_ids.tolist() == [[0, 3, 8]] and part.completion_mask.tolist() == [[True]]


def test_a_sharded_policy_decodes_until_every_process_has_finished(tiny_dir, tmp_path):
    """FSDP2 over two CPU processes: rank 0's rows stop at once, rank 1's run on. Each forward gathers the
    shards, so rank 0 keeps decoding (its rows untouched) until rank 1 is done instead of leaving it to hang;
    both ranks' completions equal the unsharded policy's."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from rk_trainer_toys import free_port

    script = Path(__file__).with_name("synced_decode_script.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(free_port()), str(script), str(tmp_path), str(tiny_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["synced"] for r in ranks] == [[False, True], [False, True]]
    assert [r["equal"] for r in ranks] == [True, True]
    assert ranks[0]["lengths"] == [1, 1, 1, 1]
    assert ranks[1]["lengths"] == [12, 12, 12, 12]
