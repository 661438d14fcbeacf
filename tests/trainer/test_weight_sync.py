"""What a weight push sends: exactly what a saved checkpoint holds (tied weights once, no non-persistent
buffers, LoRA merged without touching the trained weights)."""

import os

import pytest
import torch
from safetensors.torch import load_file

from rewardkit.trainer.generation.weight_sync import PolicyWeights, checkpoint_name


def tied_gemma2(tokenizer_dir, path):
    """A tiny Gemma2 (tied embeddings, sliding-window layers, soft-capping), saved with its tokenizer."""
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=256,
        sliding_window=16,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|im_start|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).float()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return model


def test_a_push_holds_what_the_saved_checkpoint_holds(tiny_dir, tmp_path):
    model = tied_gemma2(tiny_dir, tmp_path)
    saved = load_file(tmp_path / "model.safetensors")
    pushed = dict(PolicyWeights(model))
    assert "lm_head.weight" not in pushed  # tied to the embedding: vLLM's Gemma2 has no lm_head to load
    assert not any("inv_freq" in name for name in pushed)  # non-persistent buffers stay home
    assert pushed.keys() == saved.keys()
    for name, tensor in saved.items():
        assert torch.equal(pushed[name], tensor), name


def test_lora_pushes_merged_weights_and_leaves_the_trained_ones_untouched(tiny_dir):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base_keys = set(load_file(tiny_dir / "model.safetensors"))
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    with torch.no_grad():  # B starts at zero: give the adapter a delta
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.1)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    pushed = dict(PolicyWeights(model))
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters())  # bit for bit
    assert pushed.keys() == base_keys
    merged = model.merge_and_unload()
    for name, tensor in merged.state_dict().items():
        assert torch.allclose(pushed[name], tensor, atol=1e-6), name


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "_fsdp_wrapped_module.model.layers.0._fsdp_wrapped_module.mlp.up_proj.weight",
            "model.layers.0.mlp.up_proj.weight",
        ),
        (
            "model.layers.1._checkpoint_wrapped_module.self_attn.o_proj.weight",
            "model.layers.1.self_attn.o_proj.weight",
        ),
        (
            "base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight",
            "model.layers.0.self_attn.q_proj.weight",
        ),
        ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", None),
        ("base_model.model.lm_head.modules_to_save.default.weight", "lm_head.weight"),
        ("base_model.model.lm_head.original_module.weight", None),
    ],
)
def test_wrapper_segments_leave_the_names(raw, clean):
    assert checkpoint_name(raw) == clean


@pytest.mark.parametrize("kind", ["full", "lora"])
def test_fsdp2_shards_gather_to_the_unsharded_weights(tiny_dir, tmp_path, kind):
    """Two CPU processes (gloo) hold FSDP2 shards; every process gathers; LoRA is merged from shards too."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from rk_trainer_toys import free_port

    script = Path(__file__).with_name("sharded_weights_script.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(free_port()), str(script), str(tmp_path), str(tiny_dir), kind]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / f"{kind}.json").read_text()) == {
        "sharded": True,
        "names": True,
        "equal": True,
    }


def test_weight_files_of_killed_trainers_are_removed(tmp_path):
    pytest.importorskip("vllm")
    import subprocess
    import sys

    from rewardkit.trainer.generation.vllm_transfer import PREFIX, remove_orphans

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    orphan = tmp_path / f"{PREFIX}{int(dead.stdout)}-abc"
    live = tmp_path / f"{PREFIX}{os.getpid()}-def"
    for folder in (orphan, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x")
    remove_orphans(str(tmp_path))
    assert not orphan.exists() and live.exists()
