"""One of two CPU processes (gloo, started by torch.distributed.run): sample with the transformers backend
from an FSDP2-sharded policy where rank 0's rows stop at their first token and rank 1's run to the token
limit, and write what each rank got beside the same policy's unsharded greedy output."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend

out, model_dir = Path(sys.argv[1]), sys.argv[2]
dist.init_process_group("gloo")
torch.set_num_threads(1)
rank = dist.get_rank()
tokenizer = AutoTokenizer.from_pretrained(model_dir)
policy = AutoModelForCausalLM.from_pretrained(model_dir)
prompts = [tokenizer.encode("1 + 2 ="), tokenizer.encode("3 + 4 + 5 =")]
# Rank 0 stops at any token; rank 1 never stops early.
stops = tuple(range(len(tokenizer))) if rank == 0 else ()
spec = SamplingSpec(max_new_tokens=12, greedy=True, stop_token_ids=stops)
unsharded = TransformersBackend(policy, tokenizer)
reference = unsharded.generate(prompts, 2, spec, seed=0).token_ids
for module in policy.modules():
    if type(module).__name__ == "Qwen2DecoderLayer":
        fully_shard(module)
fully_shard(policy)
backend = TransformersBackend(policy, tokenizer)
got = backend.generate(prompts, 2, spec, seed=0).token_ids
report = {
    "synced": [unsharded.synced, backend.synced],
    "equal": got == reference,
    "lengths": sorted(map(len, got)),
}
(out / f"rank{rank}.json").write_text(json.dumps(report))
dist.barrier()
dist.destroy_process_group()
