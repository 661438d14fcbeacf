"""Test environments and a factory of real (on-disk) plugin distributions for the core tests."""

from __future__ import annotations

import asyncio
import math
import textwrap
import time
from pathlib import Path

import pytest

import rewardkit as rk


class Echo(rk.Environment):
    """Scores 1.0 when the completion equals the answer; special completions exercise every outcome."""

    name = "echo"

    class Config(rk.EnvConfig):
        size: int = 3
        sleep: float = 0.0

    def dataset(self, split):
        for i in range(self.config.size):
            yield rk.Sample(id=f"{split}-{i}", prompt=[rk.user(f"say {i}")], answer=str(i))

    async def score(self, sample, completion):
        if completion == "raise":
            raise RuntimeError("verifier bug")
        if completion == "nan":
            return math.nan
        if completion == "big":
            return 7.0
        if completion == "skip":
            return None
        if completion == "infra":
            return rk.RewardResult(score=None, error="backend unavailable")
        if completion == "hang-async":
            await asyncio.sleep(3600)
        if completion == "block-loop":
            time.sleep(3)  # a sync hang inside async code: blocks the plugin's event loop
        return rk.RewardResult(
            score=float(completion == sample.answer), components={"length": len(completion)}
        )


def exact(sample, completion):
    """Sync registered reward: 1 if the completion is exactly the answer."""
    return float(completion.strip() == sample.answer)


async def shorter_than(sample, completion, limit=10):
    """Async registered reward with a parameter."""
    return float(len(completion) < limit)


class EchoPlugin:
    @rk.hookimpl
    def register_environments(self, register):
        register(Echo, aliases=("parrot",))

    @rk.hookimpl
    def register_rewards(self, register):
        register("test.exact", exact)
        register("test.short", shorter_than)


@pytest.fixture
def echo_host():
    from rewardkit.host import PluginHost, reset_host

    host = PluginHost()
    host.add_plugin("echo", EchoPlugin(), distribution="rewardkit-echo")
    reset_host(host)
    return host


@pytest.fixture
def make_dist(tmp_path, monkeypatch):
    """Install a fake distribution (module + dist-info with entry points) on sys.path, for real discovery."""

    def make(dist: str, modules: dict[str, str], entry_points: dict[str, str]) -> Path:
        root = tmp_path / "site"
        root.mkdir(exist_ok=True)
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[rewardkit]\n{lines}\n")
        monkeypatch.syspath_prepend(str(root))
        return root

    return make
