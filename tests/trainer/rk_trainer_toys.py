"""In-test environments and plugins for the trainer tests (two plugins, so routing crosses plugins)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import rewardkit as rk
from rewardkit.host import PluginHost

TAGS = ("<think>", "</think>", "<answer>", "</answer>")


class Tags(rk.Environment):
    """Format-style reward: the share of the four think/answer tags present in the completion."""

    name = "toy.tags"

    class Config(rk.EnvConfig):
        size: int = 64

    def dataset(self, split):
        for i in range(self.config.size):
            yield rk.Sample(
                id=f"tags-{i}", prompt=[rk.user(f"What is {i} + {i % 7}?")], answer=str(i + i % 7)
            )

    async def score(self, sample, completion):
        return rk.RewardResult(
            score=sum(tag in completion for tag in TAGS) / 4, components={"len": len(completion)}
        )


class Short(rk.Environment):
    """Rewards short completions; says "not applicable" (None) for odd sample ids."""

    name = "toy.short"

    def dataset(self, split):
        for i in range(16):
            yield rk.Sample(id=f"short-{i}", prompt=[rk.user(f"Say {i} briefly.")], answer=None)

    async def score(self, sample, completion):
        if int(sample.id.split("-")[1]) % 2:
            return rk.RewardResult(score=None)
        return rk.RewardResult(score=1.0 if len(completion) < 20 else 0.0)


class Flaky(rk.Environment):
    """Every score is an infrastructure failure (a sandbox that is down)."""

    name = "toy.flaky"

    def dataset(self, split):
        for i in range(8):
            yield rk.Sample(id=f"flaky-{i}", prompt=[rk.user("Hi")])

    async def score(self, sample, completion):
        raise ConnectionError("sandbox unreachable")


class Killer(Tags):
    """Like Tags, but SIGKILLs its own process on the N-th scoring call (kill -9 in the middle of a step)."""

    name = "toy.killer"

    calls = 0

    async def score(self, sample, completion):
        Killer.calls += 1
        if Killer.calls == int(os.environ.get("RK_KILL_AT_CALL", "0")):
            os.kill(os.getpid(), signal.SIGKILL)
        return await super().score(sample, completion)


class TagsPlugin:
    @staticmethod
    @rk.hookimpl
    def register_environments(register):
        register(Tags)
        register(Killer)
        register(Flaky)
        register(NoReward)
        register(Say)


class ShortPlugin:
    @staticmethod
    @rk.hookimpl
    def register_environments(register):
        register(Short)

    @staticmethod
    @rk.hookimpl
    def register_rewards(register):
        # A second rubric item: short completions (GDPO tests need two components with their own spread)
        register("toy.brevity", lambda sample, completion: 1.0 if len(completion) < 24 else 0.0)


def toy_host() -> PluginHost:
    host = PluginHost()
    host.add_plugin("toy-tags", TagsPlugin, distribution="toy-tags")
    host.add_plugin("toy-short", ShortPlugin, distribution="toy-short")
    return host


def tiny_config(run_dir, steps: int = 4, **sections) -> dict:
    """A run config for the 130k-parameter tiny model on toy.tags; sections override whole keys."""
    config = {
        "output_dir": str(run_dir),
        "seed": 0,
        "threads": 1,
        "model": {"path": "tiny://qwen2?hidden=64&layers=2"},
        "environments": [{"name": "toy.tags"}],
        "generation": {"max_new_tokens": 16},
        "grpo": {"prompts_per_step": 4, "num_generations": 4},
        "optim": {"lr": 1e-3, "max_steps": steps},
        "logging": {"progress": False, "tensorboard": False},
        "checkpoint": {"save_final": False},
    }
    for key, value in sections.items():
        config[key] = value if not isinstance(value, dict) else {**config.get(key, {}), **value}
    return config


class FixedRollouts:
    """A generation backend whose completions depend only on the prompt and the repeat index, so a run
    on one process and on two draws the same completions (the sampled ones depend on the batch split)."""

    name = "fixed"
    TAG_IDS = (446, 447, 448, 449)  # the tiny tokenizer's <think> </think> <answer> </answer>

    def __init__(self, max_new_tokens: int, eos_id: int = 2) -> None:
        self.max_new_tokens, self.eos_id = max_new_tokens, eos_id

    def generate(self, prompts, n, spec, seed):
        from rewardkit.trainer.generation.base import Completions

        out = Completions([], [], [])
        for prompt in prompts:
            for repeat in range(n):
                key = sum(prompt) * 31 + repeat * 7
                length = 1 + key % self.max_new_tokens
                tokens = [20 + (key + 5 * j) % 400 for j in range(length)]
                tokens[: repeat % 5] = self.TAG_IDS[: repeat % 5]  # the tag reward varies within a group
                truncated = length == self.max_new_tokens
                if not truncated:
                    tokens[-1] = self.eos_id
                out.extend(Completions([tokens], [[0.0] * length], [truncated]))
        return out

    def sync_weights(self, weights) -> None:
        return None

    def close(self) -> None:
        return None


class NoReward(Tags):
    """Never applies: every outcome is None (a misconfigured environment, as far as training goes)."""

    name = "toy.noreward"

    async def score(self, sample, completion):
        return rk.RewardResult(score=None)


def free_port() -> int:
    """A free loopback TCP port (for a test's server or process group)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Say(rk.Environment):
    """ "Say 7." -> `<answer>7</answer>`: scored 1.0 for exactly that; the reference completion is it."""

    name = "toy.say"

    class Config(rk.EnvConfig):
        size: int = 200

    def dataset(self, split):
        offset = 0 if split == "train" else 10_000
        for i in range(self.config.size):
            digit = (i * 7 + offset) % 10
            yield rk.Sample(id=f"{split}-{i}", prompt=[rk.user(f"Say {digit}.")], answer=str(digit))

    def reference_completion(self, sample):
        return f"<answer>{sample.answer}</answer>"

    async def score(self, sample, completion):
        return rk.RewardResult(score=1.0 if completion.strip() == self.reference_completion(sample) else 0.0)


def run_killable(
    script: Path, *args: object, kill_at: int = 0, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run a test script in its own process, one thread, killed with SIGKILL at `toy.killer`'s
    `kill_at`-th scoring call (0: never); the script imports these toys from this folder."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RK_KILL_AT_CALL": str(kill_at)}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    command = [sys.executable, str(script), *map(str, args)]
    return subprocess.run(command, env=env, check=False, capture_output=True, text=True, timeout=timeout)
