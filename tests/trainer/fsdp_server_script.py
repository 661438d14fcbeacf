"""One of two CPU processes (gloo, started by torch.distributed.run) training an FSDP2-sharded policy and
pushing its gathered weights to a vLLM server after every step; rank 0 writes what the test checks.

accelerate enables FSDP only on GPUs, so the policy is sharded here with torch's `fully_shard` directly:
what is under test is the weight sync of sharded parameters, which the trainer uses as is."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from test_vllm import assert_greedy_parity_after_pushes
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewardkit.trainer.config import VllmConfig
from rewardkit.trainer.generation.vllm_server import VllmServerBackend

out_dir, model_dir, url = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo")
torch.set_num_threads(1)
policy = AutoModelForCausalLM.from_pretrained(model_dir)
for module in policy.modules():
    if type(module).__name__ == "Qwen2DecoderLayer":
        fully_shard(module)
fully_shard(policy)
sharded = all(isinstance(p, DTensor) for p in policy.parameters())
engine = VllmServerBackend(VllmConfig(mode="server", server_url=url), rank=dist.get_rank())
try:
    # Every rank trains, gathers and decodes (FSDP2 forwards are collectives); rank 0 sends the weights.
    assert_greedy_parity_after_pushes(engine, policy, AutoTokenizer.from_pretrained(model_dir), pushes=3)
    passed = True
finally:
    engine.close()
if dist.get_rank() == 0:
    (out_dir / "rank0.json").write_text(json.dumps({"sharded": sharded, "parity": passed}))
dist.barrier()
dist.destroy_process_group()
