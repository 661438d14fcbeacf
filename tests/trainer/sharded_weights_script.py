"""One of two CPU processes (gloo, started by torch.distributed.run): shard a policy with FSDP2 (optionally
with LoRA adapters), gather it with PolicyWeights, and write on rank 0 whether the gathered tensors equal
those of the same model unsharded. The policy is sharded with torch's `fully_shard` directly: accelerate
enables FSDP only on GPUs (and FSDP1 refuses to run without one)."""

import copy
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from transformers import AutoModelForCausalLM

from rewardkit.trainer.generation.weight_sync import PolicyWeights

out, model_dir, kind = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo")
torch.set_num_threads(1)
policy = AutoModelForCausalLM.from_pretrained(model_dir)
if kind == "lora":
    from peft import LoraConfig, get_peft_model

    policy = get_peft_model(
        policy, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # the same non-zero adapter on both ranks
        for name, param in policy.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
reference = dict(PolicyWeights(copy.deepcopy(policy)))
for module in policy.modules():
    if type(module).__name__ == "Qwen2DecoderLayer":
        fully_shard(module)
fully_shard(policy)
sharded = all(isinstance(p, DTensor) for p in policy.parameters())
gathered = {name: tensor.clone() for name, tensor in PolicyWeights(policy)}
if dist.get_rank() == 0:
    report = {
        "sharded": sharded,
        "names": sorted(gathered) == sorted(reference),
        "equal": all(
            torch.allclose(gathered[n], reference[n], atol=1e-6) for n in reference if n in gathered
        ),
    }
    (out / f"{kind}.json").write_text(json.dumps(report))
dist.barrier()
dist.destroy_process_group()
