"""Peak memory of one GRPO optimizer step at a real vocabulary: rewardkit (tiled log-probs), rewardkit with
the model's full logits, and TRL's GRPOTrainer loss (its fused LM head), each in its own process.

    python benchmarks/logprob_memory.py                       # Qwen2.5-0.5B shape, 151,936-token vocabulary
    python benchmarks/logprob_memory.py --rows 8 --completion 64
    python benchmarks/logprob_memory.py --hidden 256 --layers 4  # a smaller body, same vocabulary

The model is Qwen2.5-0.5B-shaped (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864, tied embeddings)
with random weights, built locally; the rollout is fixed token ids, so no generation runs and both sides do
the same work: one forward and backward over the same rows, then an AdamW step, in float32. Peak RSS is the
process's maximum resident set (weights, gradients, optimizer state, activations, logits). Each side needs
~10 GB at the default shape: run it on a machine with the memory free.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SIDES = ("rewardkit", "rewardkit-logits", "trl")


def build_model(args: argparse.Namespace, target: str) -> str:
    """A Qwen2.5-0.5B-shaped model (random weights) with the tiny offline tokenizer, saved to `target`."""
    if os.path.isfile(os.path.join(target, "config.json")):
        return target
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from rewardkit.trainer.tiny import resolve_tiny

    tokenizer = AutoTokenizer.from_pretrained(resolve_tiny("tiny://qwen2?hidden=64&layers=2"))
    config = Qwen2Config(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        tie_word_embeddings=True,
        max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def fixed_rollout(args: argparse.Namespace):
    """Prompts and completions as token ids (below the tokenizer's size), and varied rewards."""
    import torch

    from rewardkit.trainer.generation.base import Completions

    generator = torch.Generator().manual_seed(0)
    groups = args.rows // args.generations
    prompts = [torch.randint(3, 400, (args.prompt,), generator=generator).tolist() for _ in range(groups)]
    tokens = [
        torch.randint(3, 400, (args.completion,), generator=generator).tolist() for _ in range(args.rows)
    ]
    completions = Completions(tokens, [[0.0] * args.completion] * args.rows, [False] * args.rows)
    rewards = [float(i % 3) / 2 for i in range(args.rows)]
    return prompts, completions, rewards


def run_rewardkit(args: argparse.Namespace, path: str, out_dir: str, chunked: bool) -> float:
    import rewardkit as rk
    from rewardkit.host import PluginHost
    from rewardkit.trainer.config import parse_config
    from rewardkit.trainer.data import Prompt
    from rewardkit.trainer.loop import GRPOTrainer
    from rewardkit.trainer.rollout import build_batch

    class Fixed(rk.Environment):
        name = "bench.fixed"

        def dataset(self, split):
            yield rk.Sample(id="0", prompt=[rk.user("unused")])

        async def score(self, sample, completion):
            return rk.RewardResult(score=0.0)

    host = PluginHost()
    plugin = type(
        "P", (), {"register_environments": staticmethod(rk.hookimpl(lambda register: register(Fixed)))}
    )
    host.add_plugin("bench", plugin)
    config = {
        "output_dir": out_dir,
        "threads": args.threads,
        "model": {"path": path},
        "environments": [{"name": "bench.fixed"}],
        "generation": {"max_new_tokens": args.completion, "max_prompt_length": args.prompt},
        "grpo": {"prompts_per_step": args.rows // args.generations, "num_generations": args.generations},
        "optim": {"lr": 1e-6, "max_steps": 1},
        "logging": {"progress": False, "tensorboard": False},
    }
    trainer = GRPOTrainer(parse_config(config), host=host)
    trainer._chunked = chunked  # the measured switch: tiled log-probs, or the model's full logits
    prompts, completions, rewards = fixed_rollout(args)
    batch = build_batch(prompts, completions, args.generations, trainer.tokenizer.pad_token_id)
    sample = Prompt("bench.fixed", rk.Sample(id="0", prompt=[]))
    results = [rk.RewardResult(score=r) for r in rewards]
    trainer._score_batch(batch, results, [sample] * args.rows)
    started = time.perf_counter()
    trainer.optimize(batch, first=True)
    assert all(p.grad is None for p in trainer._unwrapped().parameters())  # the step ran to the end
    return time.perf_counter() - started


def run_trl(args: argparse.Namespace, path: str, out_dir: str) -> float:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit.trainer.advantages import group_advantages
    from rewardkit.trainer.rollout import build_batch

    tokenizer = AutoTokenizer.from_pretrained(path)
    config = GRPOConfig(
        output_dir=out_dir,
        per_device_train_batch_size=args.rows,
        num_generations=args.generations,
        max_completion_length=args.completion,
        learning_rate=1e-6,
        loss_type="dapo",
        beta=0.0,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
    )
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=lambda completions, **kwargs: [0.0] * len(completions),
        args=config,
        train_dataset=Dataset.from_list([{"prompt": "unused"}] * args.rows),
        processing_class=tokenizer,
    )
    trainer.current_gradient_accumulation_steps = 1
    prompts, completions, rewards = fixed_rollout(args)
    batch = build_batch(prompts, completions, args.generations, tokenizer.pad_token_id)
    width = batch.prompt_width
    advantages = group_advantages(torch.tensor(rewards), args.generations).values
    inputs = {
        "prompt_ids": batch.input_ids[:, :width],
        "prompt_mask": batch.attention_mask[:, :width],
        "completion_ids": batch.input_ids[:, width:],
        "completion_mask": batch.completion_mask.long(),
        "advantages": advantages,
        "num_items_in_batch": batch.completion_mask.sum(),
    }
    optimizer = trainer.create_optimizer()
    started = time.perf_counter()
    trainer.compute_loss(model, inputs).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as out_dir:
        if args.side == "trl":
            seconds = run_trl(args, args.model_dir, out_dir)
        else:
            seconds = run_rewardkit(args, args.model_dir, out_dir, chunked=args.side == "rewardkit")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    print("RESULT " + json.dumps({"peak_rss_gb": peak, "step_s": seconds}))


def measure(side: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--side", side, "--model-dir", args.model_dir, *_shape(args)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        return {"error": done.stderr[-1500:]}
    return json.loads(line[7:])


def _shape(args: argparse.Namespace) -> list[str]:
    names = ("rows", "generations", "prompt", "completion", "vocab", "hidden", "layers", "heads")
    names += ("kv_heads", "intermediate", "threads")
    return [part for name in names for part in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", choices=SIDES)
    parser.add_argument("--model-dir")
    parser.add_argument("--rows", type=int, default=16, help="completions in the step")
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--prompt", type=int, default=32, help="prompt tokens")
    parser.add_argument("--completion", type=int, default=32, help="completion tokens")
    parser.add_argument("--vocab", type=int, default=151_936)
    parser.add_argument("--hidden", type=int, default=896)
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--heads", type=int, default=14)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--intermediate", type=int, default=4864)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the sides this many times")
    parser.add_argument("--sides", default=",".join(SIDES), help=f"a subset of {','.join(SIDES)}")
    args = parser.parse_args()
    if args.side:
        return worker(args)
    cache = os.path.join(tempfile.gettempdir(), "rk-bench-logprob-memory")
    args.model_dir = build_model(args, os.path.join(cache, f"v{args.vocab}-h{args.hidden}-l{args.layers}"))
    print(
        f"rows {args.rows}, prompt {args.prompt} + completion {args.completion} tokens, "
        f"vocabulary {args.vocab}, hidden {args.hidden}, {args.layers} layers, float32, "
        f"{args.threads} threads"
    )
    sides = args.sides.split(",")
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for _ in range(args.repeats):
        for side in sides:
            results[side].append(measure(side, args))
    for side, runs in results.items():
        shown = [
            "FAILED" if "error" in r else f"{r['peak_rss_gb']:.2f} GB ({r['step_s']:.1f} s)" for r in runs
        ]
        print(f"{side:17s} peak RSS per run: {', '.join(shown)}")
        for run in runs:
            if "error" in run:
                print(run["error"])
    ours = [r["peak_rss_gb"] for r in results.get("rewardkit", []) if "error" not in r]
    theirs = [r["peak_rss_gb"] for r in results.get("trl", []) if "error" not in r]
    if ours and theirs:
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"peak RSS ratio rewardkit / TRL (medians): {ratio:.3f}")
    return None


if __name__ == "__main__":
    main()
