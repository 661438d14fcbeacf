"""rewardkit's SFT stage vs TRL's SFTTrainer on the same rows (CPU, a tiny offline model).

    python benchmarks/sft_vs_trl.py                    # the quickstart's cold-start data, 60 steps
    python benchmarks/sft_vs_trl.py --steps 100 --repeats 3

The rows are the quickstart's: `math.procedural` worked two-number additions, as chat messages for rewardkit
and as conversational prompt / completion pairs for TRL (so both train the completion's tokens only). Each
side runs in its own subprocess with the same model, rows, batch, max length, learning rate, constant
schedule, fp32 and one thread, and times its training call only (model and data loading excluded). Wall
times drift on a shared machine: compare the ratios, measured in the same run, and the CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODEL = "tiny://qwen2?hidden=128&layers=2"
TASK = {
    "kinds": ["arithmetic"],
    "difficulty": [2, 2],
    "operators": ["+"],
    "prompt": {"system_prompt": None},
}


def write_rows(path: str, count: int) -> None:
    import itertools

    import rewardkit as rk

    env = rk.load_environment("math.procedural", **TASK)
    with open(path, "w", encoding="utf-8") as out:
        for sample in itertools.islice(env.dataset("train"), count):
            prompt = [dict(m) for m in sample.prompt]
            completion = [{"role": "assistant", "content": env.reference_completion(sample)}]
            row = {"messages": prompt + completion, "prompt": prompt, "completion": completion}
            out.write(json.dumps(row) + "\n")


def run_rewardkit(args: argparse.Namespace, rows: str, out_dir: str) -> dict[str, float]:
    from rewardkit.trainer.sft import parse_sft_config
    from rewardkit.trainer.sft.loop import SFTTrainer

    config = parse_sft_config(
        {
            "output_dir": out_dir,
            "threads": 1,
            "model": {"path": MODEL},
            "data": {"path": rows},
            "batch_size": args.batch,
            "max_length": args.max_length,
            "optim": {"lr": args.lr, "scheduler": "constant", "max_steps": args.steps},
            "logging": {"progress": False, "tensorboard": False},
            "checkpoint": {"save_final": False},
        }
    )
    trainer = SFTTrainer(config)
    wall, cpu = time.perf_counter(), time.process_time()
    result = trainer.train()
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "loss": statistics.mean(row["loss"] for row in result.history),
    }


def run_trl(args: argparse.Namespace, rows: str, out_dir: str) -> dict[str, float]:
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from rewardkit.trainer.tiny import resolve_tiny

    torch.set_num_threads(1)
    path = resolve_tiny(MODEL)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    data = datasets.load_dataset("json", data_files=rows, split="train").remove_columns("messages")
    config = SFTConfig(
        output_dir=out_dir,
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_length=args.max_length,
        logging_steps=args.steps,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=0,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer)
    wall, cpu = time.perf_counter(), time.process_time()
    output = trainer.train()
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "loss": float(output.training_loss),
    }


def one_side(side: str, args: argparse.Namespace, rows: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out_dir:
        argv = [sys.executable, __file__, "--side", side, "--rows", rows, *_shared(args), "--out", out_dir]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])


def _shared(args: argparse.Namespace) -> list[str]:
    return [
        f"--steps={args.steps}",
        f"--batch={args.batch}",
        f"--lr={args.lr}",
        f"--max-length={args.max_length}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="optimizer steps per side")
    parser.add_argument("--batch", type=int, default=64, help="rows per step")
    parser.add_argument("--lr", type=float, default=2e-3, help="constant learning rate")
    parser.add_argument("--max-length", type=int, default=96, help="tokens per row at most")
    parser.add_argument("--rows", default=None, help="(internal) the rows file")
    parser.add_argument("--count", type=int, default=1000, help="rows written")
    parser.add_argument("--repeats", type=int, default=1, help="alternate the sides this many times")
    parser.add_argument("--side", choices=["rewardkit", "trl"], default=None, help="(internal)")
    parser.add_argument("--out", default=None, help="(internal)")
    args = parser.parse_args()
    if args.side is not None:
        run = run_rewardkit if args.side == "rewardkit" else run_trl
        print(json.dumps(run(args, args.rows, args.out)))
        return
    with tempfile.TemporaryDirectory() as folder:
        rows = os.path.join(folder, "rows.jsonl")
        write_rows(rows, args.count)
        results: dict[str, list[dict[str, float]]] = {"rewardkit": [], "trl": []}
        for repeat in range(args.repeats):
            for side in ("rewardkit", "trl") if repeat % 2 == 0 else ("trl", "rewardkit"):
                results[side].append(one_side(side, args, rows))
    print(f"SFT, {args.steps} steps x {args.batch} rows, {MODEL}, 1 thread, {args.repeats} repeat(s)")
    for side, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        loss = statistics.median(r["loss"] for r in runs)
        print(
            f"  {side:9}  wall {wall:7.1f} s  cpu {cpu:7.1f} s  "
            f"rows per cpu-second {args.steps * args.batch / cpu:7.0f}  mean loss {loss:.3f}"
        )
    ratios = [t["cpu"] / r["cpu"] for r, t in zip(results["rewardkit"], results["trl"], strict=True)]
    walls = [t["wall"] / r["wall"] for r, t in zip(results["rewardkit"], results["trl"], strict=True)]
    print(f"  TRL / rewardkit: cpu x{statistics.median(ratios):.2f}, wall x{statistics.median(walls):.2f}")


if __name__ == "__main__":
    main()
