"""`rewardkit eval` against verifiers' own evaluation (`vf-eval`), on the same local endpoint, model, prompts
and number of rollouts.

Both run as whole processes against one vLLM-CPU OpenAI-compatible server serving a tiny local model, with
the same prompts and the same verifier (a reply passes when it contains the answer's last digit, so a random
tiny model passes some). The runs alternate and each side's median wall time is reported, with rollouts per
second and rewardkit's scoring time per rollout. Then the completions verifiers stored are scored by
rewardkit (as a run folder, through `rewardkit rescore`) and pass@k of both sides is computed on them: they
must be identical.

verifiers is installed in a scratch virtualenv used only here (never a dependency of rewardkit), created on
first use from PyPI together with `uv`, which vf-eval runs its chat program with.

    python benchmarks/eval_vs_verifiers.py --prompts 16 --rollouts 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TINY = "tiny://qwen2?hidden=64&layers=2"

SHARED = '''
"""The benchmark's prompts and verifier, imported by both sides."""

def prompts(n):
    return [(f"q{i}", f"What is {i} + {(i * 7) % 19}?", str(i + (i * 7) % 19)) for i in range(n)]

def check(answer, reply):
    return float(answer[-1] in reply)
'''

RK_PLUGIN = '''
import os
import rewardkit as rk
from bench_shared import check, prompts

class BenchAnswer(rk.Environment):
    """The benchmark's environment."""
    name = "bench.answer"
    splits = ("test",)

    def dataset(self, split):
        for sid, question, answer in prompts(int(os.environ["BENCH_PROMPTS"])):
            yield rk.Sample(id=sid, prompt=[rk.user(question)], answer=answer)

    async def score(self, sample, completion):
        return check(sample.answer, completion.strip())

@rk.hookimpl
def register_environments(register):
    register(BenchAnswer)
'''

VF_TASKSET = """
import os
import verifiers.v1 as vf
from bench_shared import check, prompts

class BenchData(vf.TaskData):
    answer: str = ""

class BenchTask(vf.Task[BenchData]):
    @vf.reward(weight=1.0)
    async def reward(self, trace: vf.Trace) -> float:
        return check(self.data.answer, trace.last_reply)

class BenchConfig(vf.TasksetConfig):
    pass

class BenchTaskset(vf.Taskset[BenchTask, BenchConfig]):
    def load(self):
        rows = prompts(int(os.environ["BENCH_PROMPTS"]))
        return [BenchTask(BenchData(id=sid, prompt=q, answer=a), self.config.task) for sid, q, a in rows]

__all__ = ["BenchTaskset"]
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=16, help="prompts (default 16)")
    parser.add_argument("--rollouts", type=int, default=4, help="rollouts per prompt (default 4)")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens per reply (default 32)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight, both sides (default 32)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side (default 3)")
    parser.add_argument("--base-url", help="use this server (serving --model) instead of starting vLLM-CPU")
    parser.add_argument("--model", default="tiny", help="the served model name (default: tiny)")
    parser.add_argument(
        "--verifiers-venv",
        type=Path,
        default=Path(os.environ.get("REWARDKIT_CACHE", Path.home() / ".cache" / "rewardkit"))
        / "bench-verifiers",
        help="scratch virtualenv with verifiers (created when missing)",
    )
    return parser.parse_args()


def verifiers_venv(path: Path) -> Path:
    vf_eval = path / "bin" / "vf-eval"
    if not vf_eval.exists():
        print(f"creating {path} with verifiers and uv (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "verifiers", "uv"]
        subprocess.run(pip, check=True)
    return vf_eval


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_vllm(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    from rewardkit.trainer.tiny import resolve_tiny

    model = resolve_tiny(TINY)
    port = free_port()
    env = {**os.environ, "VLLM_CACHE_ROOT": str(work / "vllm-cache"), "VLLM_CPU_KVCACHE_SPACE": "1"}
    args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model)]
    args += ["--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32"]
    args += ["--enforce-eager", "--max-model-len", "512", "--gpu-memory-utilization", "0.05", "--seed", "0"]
    log = (work / "vllm.log").open("wb")
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"vLLM exited; see {work / 'vllm.log'}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.kill()
    raise SystemExit("vLLM did not come up in 600 s")


def write_plugins(work: Path) -> dict[str, str]:
    site = work / "site"
    info = site / "rk_bench-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "bench_shared.py").write_text(textwrap.dedent(SHARED))
    (site / "rk_bench_env.py").write_text(textwrap.dedent(RK_PLUGIN))
    (site / "rk_bench_answer.py").write_text(textwrap.dedent(VF_TASKSET))
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rk-bench\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rewardkit]\nrkbench = rk_bench_env\n")
    return {"PYTHONPATH": str(site), "REWARDKIT_PLUGINS": "rkbench", "BENCH_KEY": "unused"}


def run_rewardkit(args: argparse.Namespace, url: str, out: Path, env: dict[str, str]) -> float:
    command = [sys.executable, "-c", "from rewardkit.cli.main import main; main()", "eval", "bench.answer"]
    command += ["-m", args.model, "-b", url, "-n", str(args.prompts), "-r", str(args.rollouts), "-t", "1.0"]
    command += [
        "--max-tokens",
        str(args.max_tokens),
        "-c",
        str(args.concurrency),
        "-o",
        str(out),
        "--no-progress",
    ]
    return timed(command, env)


def run_verifiers(args: argparse.Namespace, vf_eval: Path, url: str, out: Path, env: dict[str, str]) -> float:
    command = [str(vf_eval), "rk_bench_answer", "-m", args.model, "-n", str(args.prompts)]
    command += ["-r", str(args.rollouts), "-c", str(args.concurrency), "--sampling.temperature", "1.0"]
    command += ["--sampling.max-tokens", str(args.max_tokens), "--client.base-url", url]
    command += ["--client.api-key-var", "BENCH_KEY", "--no-push", "--no-rich", "-o", str(out)]
    command += ["--env.agent.harness.id", "null", "--env.agent.runtime.type", "subprocess"]
    path = f"{vf_eval.parent}{os.pathsep}{os.environ['PATH']}"
    return timed(command, {**env, "PATH": path})


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{command[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return seconds


def verifiers_rollouts(out: Path) -> list[dict[str, Any]]:
    """(task id, reply, reward) of each rollout in vf-eval's traces.jsonl (one episode per line)."""
    traces = sorted(out.rglob("traces.jsonl"))
    if not traces:
        raise SystemExit(f"no traces.jsonl under {out}")
    rows = []
    for line in traces[-1].read_text().splitlines():
        episode = json.loads(line)
        trace = episode["traces"][-1]
        rewards = [r["score"] * r.get("weight", 1.0) for r in trace.get("rewards", {}).values() if r]
        rows.append({"id": episode["task"]["data"]["id"], "reply": _reply(trace), "reward": sum(rewards)})
    return rows


def _reply(trace: dict[str, Any]) -> str:
    """verifiers' `Trace.last_reply`: the last sampled assistant message, stripped."""
    for node in reversed(trace.get("nodes", [])):
        message = node.get("message") or {}
        if message.get("role") == "assistant":
            content = message.get("content") or ""
            if isinstance(content, list):
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return str(content).strip()
    return ""


def codex_pass_at_k(n: int, c: int, k: int) -> float:
    """The estimator as the Codex paper's numpy listing computes it, written independently of rewardkit."""
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def same_completions(rows: list[dict[str, Any]], rk_run: Path, work: Path, env: dict[str, str]) -> None:
    """Store verifiers' completions as a rewardkit run (its scores as they were), re-score it with rewardkit,
    and compare every reward and pass@k."""
    from rewardkit.evaluation.rundir import read_metadata, write_records
    from rewardkit.records import RolloutRecord
    from rewardkit.types import RewardResult, Sample, Trajectory

    metadata = read_metadata(rk_run)
    samples = {r.sample.id: r.sample for r in _records(rk_run)}
    stored = work / "vf-as-rewardkit"
    stored.mkdir()
    counts: dict[str, int] = {}
    records = []
    for row in rows:
        index = counts.get(row["id"], 0)
        counts[row["id"]] = index + 1
        sample: Sample = samples[row["id"]]
        result = RewardResult(score=row["reward"])
        records.append(RolloutRecord("bench.answer", sample, Trajectory.single(row["reply"]), result, index))
    write_records(stored, records)
    (stored / "metadata.json").write_text(json.dumps({**metadata, "status": "complete"}))
    rescored = work / "vf-rescored"
    command = [sys.executable, "-c", "from rewardkit.cli.main import main; main()", "rescore", str(stored)]
    timed([*command, "-o", str(rescored), "--no-progress"], env)
    ours = read_metadata(rescored)
    changed = ours["changes"]["bench.answer"]["changed"]
    by_prompt: dict[str, list[float]] = {}
    for row in rows:
        by_prompt.setdefault(row["id"], []).append(row["reward"])
    ks = sorted(ours["metrics"]["environments"]["bench.answer"]["pass_at_k"], key=int)
    theirs = {
        k: statistics.fmean(
            codex_pass_at_k(len(v), sum(s >= 1.0 for s in v), int(k)) for v in by_prompt.values()
        )
        for k in ks
    }
    mine = ours["metrics"]["environments"]["bench.answer"]["pass_at_k"]
    print(f"\nsame {len(rows)} stored completions (verifiers' run): rewardkit's verdicts differ on {changed}")
    print(f"{'k':>4} {'verifiers rewards + Codex estimator':>38} {'rewardkit rescore':>18}")
    for k in ks:
        print(f"{k:>4} {theirs[k]:>38.6f} {mine[k]:>18.6f}")
    identical = changed == 0 and all(math.isclose(theirs[k], mine[k], abs_tol=1e-12) for k in ks)
    print("pass@k identical" if identical else "pass@k DIFFERS")
    if not identical:
        raise SystemExit(1)


def _records(run: Path) -> list[Any]:
    from rewardkit.evaluation.rundir import latest_records

    return list(latest_records(run).values())


def main() -> None:
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    vf_eval = verifiers_venv(args.verifiers_venv)
    work = Path(tempfile.mkdtemp(prefix="rk-eval-bench-"))
    env = {**write_plugins(work), "BENCH_PROMPTS": str(args.prompts)}
    server = None
    try:
        url = args.base_url
        if url is None:
            server, url = start_vllm(work)
        shape = f"{args.prompts} prompts x {args.rollouts} rollouts, {args.max_tokens} tokens each"
        print(f"endpoint {url}; {shape}")
        run_verifiers(args, vf_eval, url, work / "vf-warmup", env)  # uv builds the chat program's env once
        times: dict[str, list[float]] = {"rewardkit": [], "verifiers": []}
        for repeat in range(args.repeats):
            order = ["rewardkit", "verifiers"] if repeat % 2 == 0 else ["verifiers", "rewardkit"]
            for side in order:
                out = work / f"{side}-{repeat}"
                if side == "rewardkit":
                    times[side].append(run_rewardkit(args, url, out, env))
                else:
                    times[side].append(run_verifiers(args, vf_eval, url, out, env))
                print(f"  {side:<10} run {repeat}: {times[side][-1]:.2f} s", flush=True)
        report(args, times, work)
        same_completions(verifiers_rollouts(work / "verifiers-0"), work / "rewardkit-0", work, env)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, times: dict[str, list[float]], work: Path) -> None:
    from rewardkit.evaluation.rundir import read_metadata

    rollouts = args.prompts * args.rollouts
    rk, vf = statistics.median(times["rewardkit"]), statistics.median(times["verifiers"])
    print(f"\nwall time, whole process, median of {args.repeats} (machine may be shared):")
    print(f"  rewardkit {rk:7.2f} s  {rollouts / rk:7.2f} rollouts/s")
    print(f"  verifiers {vf:7.2f} s  {rollouts / vf:7.2f} rollouts/s")
    print(f"  ratio rewardkit / verifiers: {rk / vf:.2f}x (goal <= 0.70x)")
    metadata = read_metadata(work / "rewardkit-0")
    seconds = metadata["metrics"]["overall"]["seconds"]
    print(
        f"  rewardkit per rollout: generation wait {1000 * seconds['generate_mean']:.1f} ms, "
        f"scoring {1000 * seconds['score_mean']:.2f} ms (overlapped with generation)"
    )
    inside = metadata["timing"]["wall_seconds"]
    rate = rollouts / inside
    print(f"  rewardkit inside the run: {inside:.2f} s ({rate:.2f} rollouts/s); the rest is start-up")


if __name__ == "__main__":
    main()
