"""Multi-turn GRPO with a tool: rewardkit's trainer vs TRL's GRPOTrainer (`environment_factory`), same run.

    python benchmarks/episodes_vs_trl.py                       # 6 steps a side, 0.2 s tool latency
    python benchmarks/episodes_vs_trl.py --repeats 3 --steps 8 --tool-latency 0.5

Both sides train the same briefly supervised tiny model (130k parameters, a ChatML template with Hermes
tool calls; TRL parses them with its own `qwen3_template` response template) on the same environment
through the same rewardkit objects: a
`lookup` tool (async, sleeping `--tool-latency` seconds like a remote service) whose result the model must
repeat. TRL gets the environment through rewardkit's adapter (`trl_environment_factory`,
`trl_episode_reward`). Same prompts, batch, group size, lengths, learning rate, fp32, loss (dapo), beta 0,
threads, transformers generation on both sides; each side in its own subprocess.

Printed per side: median seconds per step (steps after the first two), the share of step time spent waiting
on tools (rewardkit: time its generation thread had nothing to do while environments answered; TRL: time
inside tool calls, which it runs one after another in the training thread), tool calls per step, and token
drift: the mean |generator log-prob - trainer log-prob| over trained tokens (rewardkit's logprob_mismatch;
TRL's transformers path keeps no generator log-probs, so it has none to report). Ratios are from the same
run; absolute times drift on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = "tiny://qwen2?hidden=64&layers=2"
# Tool-call markup as single tokens, as real tool-calling models have it; the tiny byte-level vocabulary would
# otherwise spell the call in ~40 pieces that a 130k-parameter model does not learn in a short supervision.
MARKUP = [
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    '{"name": "lookup", "arguments": {"key": "',
    '"}}',
]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "trainer"))
from episode_toys import TOOL_TEMPLATE, supervise  # noqa: E402  (the tests' tool template and SFT)

CODES = {f"k{i}": str(100 + 37 * i % 900) for i in range(40)}


def lookup_env(latency: float) -> Any:
    import rewardkit as rk

    @rk.tool
    async def lookup(key: str) -> str:
        """Look up the code stored under a key.

        Args:
            key: the key, e.g. "k3"
        """
        await asyncio.sleep(latency)
        return CODES.get(key, "unknown key")

    class Lookup(rk.EpisodeEnvironment):
        name = "bench.lookup"
        max_turns = 3

        def dataset(self, split: str) -> list[rk.Sample]:
            return [rk.Sample(k, [rk.user(f"What is the code of {k}?")], answer=c) for k, c in CODES.items()]

        def tools(self, sample: rk.Sample) -> list[Any]:
            return [lookup]

        async def score_trajectory(self, sample: rk.Sample, trajectory: rk.Trajectory) -> rk.RewardResult:
            return rk.RewardResult(float(str(sample.answer) in trajectory.completion))

    return Lookup()


# -- the shared model ----------------------------------------------------------------------------------
def prepare_model(target: Path, steps: int) -> Path:
    """The tiny model with the tool template, supervised until it calls the tool and answers."""
    from tokenizers import AddedToken
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.trainer.tiny import resolve_tiny

    source = resolve_tiny(MODEL)
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.chat_template = TOOL_TEMPLATE
    tokenizer.add_tokens([AddedToken(text, special=False, normalized=False) for text in MARKUP])
    model = AutoModelForCausalLM.from_pretrained(source).float()
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    tools = [t.schema() for t in lookup_env(0).tools(None)]  # type: ignore[arg-type]
    supervise(model, tokenizer, steps, examples=tool_use, tools=tools, rows=8)
    print(f"supervised {steps} steps, last loss {model.supervised_loss:.3f}", flush=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def tool_use(rng: Any) -> list[tuple[list[dict[str, Any]], str]]:
    """The two replies of a right episode: the tool call, then the code it returned."""
    key = rng.choice(list(CODES))
    call = {"type": "function", "function": {"name": "lookup", "arguments": {"key": key}}}
    first = [{"role": "user", "content": f"What is the code of {key}?"}]
    second = [*first, {"role": "assistant", "content": "", "tool_calls": [call]}]
    second.append({"role": "tool", "name": "lookup", "content": CODES[key]})
    tool_call = f'<tool_call>\n{{"name": "lookup", "arguments": {{"key": "{key}"}}}}\n</tool_call>'
    return [(first, tool_call), (second, f"The code is {CODES[key]}.")]


# -- rewardkit side ------------------------------------------------------------------------------------
def run_rewardkit(args: argparse.Namespace, out_dir: str) -> list[dict[str, float]]:
    from rewardkit.trainer import train

    env = lookup_env(args.tool_latency)
    config = {
        "output_dir": out_dir,
        "seed": args.seed,
        "threads": args.threads,
        "model": {"path": args.model_dir},
        "environments": [{"name": env.name}],
        "generation": {"max_new_tokens": args.max_new_tokens},
        "episodes": {"max_tokens": args.max_tokens},
        "grpo": {"prompts_per_step": args.batch // args.generations, "num_generations": args.generations},
        "optim": {"lr": args.lr, "max_steps": args.steps},
        "logging": {"progress": False, "tensorboard": False},
        "checkpoint": {"save_final": False},
    }
    result = train(config, environments={env.name: env})
    return [
        {
            "time": row["time/step"],
            "tool_wait": row.get("time/env_wait", 0.0),
            "tool_calls": row.get("episodes/tool_calls", 0.0),
            "reward": row["reward/mean"],
            "drift": row.get("logprob_mismatch", float("nan")),
        }
        for row in result.history
    ]


# -- TRL side ------------------------------------------------------------------------------------------
def run_trl(args: argparse.Namespace, out_dir: str) -> list[dict[str, float]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen3_template

    from rewardkit.adapters import to_hf_dataset, trl_environment_factory, trl_episode_reward

    torch.set_num_threads(args.threads)
    env = lookup_env(args.tool_latency)
    factory = trl_environment_factory(env)
    waited = {"seconds": 0.0, "calls": 0}
    plain = factory.lookup

    def timed(self: Any, **arguments: Any) -> str:
        started = time.perf_counter()
        try:
            return plain(self, **arguments)
        finally:
            waited["seconds"] += time.perf_counter() - started
            waited["calls"] += 1

    timed.__signature__ = plain.__signature__  # type: ignore[attr-defined]
    timed.__annotations__, timed.__doc__, timed.__name__ = plain.__annotations__, plain.__doc__, "lookup"
    factory.lookup = timed
    rows: list[dict[str, float]] = []
    scorer = trl_episode_reward(env)

    def reward(*a: Any, **k: Any) -> list[float | None]:
        scores = scorer(*a, **k)
        rows.append({"reward": sum(s or 0.0 for s in scores) / len(scores)})
        return scores

    reward.__name__ = "lookup"

    class Clock(TrainerCallback):
        def on_train_begin(self, *a: Any, **k: Any) -> None:
            self.last = time.perf_counter()
            self.waited = self.calls = 0.0

        def on_step_end(self, *a: Any, **k: Any) -> None:
            now = time.perf_counter()
            rows[-1].update(
                time=now - self.last,
                tool_wait=waited["seconds"] - self.waited,
                tool_calls=waited["calls"] - self.calls,
                drift=float("nan"),
            )
            self.last, self.waited, self.calls = now, waited["seconds"], waited["calls"]

    config = GRPOConfig(
        output_dir=out_dir,
        per_device_train_batch_size=args.batch,
        num_generations=args.generations,
        max_completion_length=args.max_tokens,
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
        use_cpu=True,
        lr_scheduler_type="constant",
        dataloader_num_workers=0,
        disable_tqdm=True,
        max_tool_calling_iterations=2,
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    tokenizer.response_template = qwen3_template  # TRL's parser for Hermes <tool_call> JSON
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32),
        reward_funcs=reward,
        args=config,
        train_dataset=to_hf_dataset(env),
        processing_class=tokenizer,
        environment_factory=factory,
        callbacks=[Clock()],
    )
    trainer.train()
    return [row for row in rows if "time" in row]


# -- driver --------------------------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as out_dir:
        rows = (run_rewardkit if args.side == "rewardkit" else run_trl)(args, out_dir)
    print("RESULT " + json.dumps(rows))


def measure(side: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--side", side, *_shared(args)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
    env.update({"TOKENIZERS_PARALLELISM": "false", "TRL_EXPERIMENTAL_SILENCE": "1"})
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        return {"error": done.stderr[-2000:]}
    rows = json.loads(line[7:])[2:]  # the first two steps warm up
    if not rows:
        return {"error": "no steps after warm-up"}
    out = {key: statistics.median(r[key] for r in rows) for key in ("time", "tool_calls")}
    out["tool_share"] = sum(r["tool_wait"] for r in rows) / sum(r["time"] for r in rows)
    drifts = [r["drift"] for r in rows if r["drift"] == r["drift"]]
    out["drift"] = statistics.mean(drifts) if drifts else None
    out["reward"] = statistics.mean(r["reward"] for r in rows)
    return out


def _shared(args: argparse.Namespace) -> list[str]:
    pairs = {
        "--model-dir": args.model_dir,
        "--steps": args.steps,
        "--batch": args.batch,
        "--generations": args.generations,
        "--max-new-tokens": args.max_new_tokens,
        "--max-tokens": args.max_tokens,
        "--tool-latency": args.tool_latency,
        "--lr": args.lr,
        "--threads": args.threads,
        "--seed": args.seed,
    }
    return [str(x) for pair in pairs.items() for x in pair]


def describe(name: str, res: dict[str, Any]) -> str:
    if "error" in res:
        return f"{name}: FAILED\n{res['error']}"
    drift = "n/a (no generator log-probs)" if res["drift"] is None else f"{res['drift']:.2e}"
    return (
        f"{name:9s} {res['time']:.3f} s/step  waiting on tools {100 * res['tool_share']:.0f}% of the step  "
        f"tool calls/step {res['tool_calls']:.0f}  token drift {drift}  mean reward {res['reward']:.2f}"
    )


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--side", choices=["rewardkit", "trl"])
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=160, help="per turn (rewardkit; TRL has none)")
    parser.add_argument("--max-tokens", type=int, default=160, help="per episode (both sides)")
    parser.add_argument("--tool-latency", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--sft-steps", type=int, default=120)
    args = parser.parse_args()
    if args.side:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as scratch:
        os.environ.setdefault("REWARDKIT_CACHE", os.path.join(scratch, "cache"))
        args.model_dir = str(prepare_model(Path(scratch) / "model", args.sft_steps))
        ratios = []
        for repeat in range(args.repeats):
            order = ("rewardkit", "trl") if repeat % 2 == 0 else ("trl", "rewardkit")
            results = {side: measure(side, args) for side in order}
            print(f"-- repeat {repeat + 1} (machine shared; compare ratios)")
            for side in ("rewardkit", "trl"):
                print(describe(side, results[side]))
            if not any("error" in r for r in results.values()):
                ratio = results["rewardkit"]["time"] / results["trl"]["time"]
                ratios.append(ratio)
                print(f"step time rewardkit/TRL: {ratio:.2f}x")
        if ratios:
            median = statistics.median(ratios)
            print(f"median step-time ratio rewardkit/TRL over {len(ratios)} repeats: {median:.2f}x")


if __name__ == "__main__":
    main()
