"""The worker pool: a hard limit per call that starts when a worker takes it, crashes as errors, and
workers that never import the caller's `__main__` (scripts need no main guard)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time

import pytest

from rewardkit.isolation import ProcessPool, WorkerCrashed


def spin() -> None:
    while True:
        pass


def add(a: int, b: int) -> int:
    return a + b


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def repeat(text: str, times: int) -> str:
    return text * times


def die() -> None:
    os._exit(3)


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no pickling")


def raise_unpicklable() -> None:
    raise Unpicklable("lost in transit")


@pytest.fixture(scope="module")
def pool():
    pool = ProcessPool(workers=1)
    yield pool
    pool.close()


def test_hard_timeout_kills_and_replaces_the_worker(pool):
    with pytest.raises(TimeoutError, match="killed"):
        pool.run_sync(spin, timeout=0.5)
    assert pool.run_sync(add, 2, 3, timeout=10) == 5


def test_works_inside_a_running_event_loop(pool):
    async def main():
        with pytest.raises(TimeoutError):
            await pool.run(spin, timeout=0.3)
        return await pool.run(add, 1, 1, timeout=10)

    assert asyncio.run(main()) == 2


def test_a_crashing_worker_is_reported(pool):
    with pytest.raises(WorkerCrashed, match="exit status 3"):
        pool.run_sync(die, timeout=5)
    assert pool.run_sync(add, 1, 2, timeout=10) == 3


def test_a_call_waiting_for_a_busy_worker_keeps_its_whole_limit(pool):
    pool.run_sync(add, 0, 0, timeout=60)  # a started worker: its start-up is not what is measured here
    futures = [pool.submit(nap, 0.6, timeout=1.0) for _ in range(3)]
    assert [f.result() for f in futures] == [0.6, 0.6, 0.6]  # the third waited 1.2 s, ran 0.6 s


def test_exceptions_keep_their_type_and_unpicklable_ones_keep_their_message(pool):
    with pytest.raises(ZeroDivisionError):
        pool.run_sync(divmod, 1, 0, timeout=10)
    with pytest.raises(RuntimeError, match="Unpicklable: lost in transit"):
        pool.run_sync(raise_unpicklable, timeout=10)


def test_functions_a_worker_cannot_import_are_refused_at_once(pool):
    def local(x):
        return x

    with pytest.raises(ValueError, match="top level of a module"):
        pool.submit(local, 1, timeout=1)
    with pytest.raises(ValueError, match="top level of a module"):
        pool.submit(lambda: 1, timeout=1)


def test_a_closed_pool_fails_what_was_queued_and_starts_afresh_on_the_next_call():
    pool = ProcessPool(workers=1)
    busy = pool.submit(nap, 5.0, timeout=60)
    queued = pool.submit(add, 1, 1, timeout=60)
    while not busy.running():
        time.sleep(0.05)
    pool.close()
    with pytest.raises(WorkerCrashed):
        busy.result()  # its worker was killed
    with pytest.raises(RuntimeError, match="closed"):
        queued.result()
    assert pool.run_sync(add, 2, 2, timeout=60) == 4
    pool.close()


def test_inputs_over_the_size_cap_are_refused():
    small = ProcessPool(workers=1, max_bytes=1000)
    with pytest.raises(ValueError, match="over the pool's 1000-byte limit"):
        small.submit(add, "x" * 2000, "", timeout=1)
    with pytest.raises(ValueError, match=r"result is .* over the pool's 1000-byte limit"):
        small.run_sync(repeat, "x", 2000, timeout=60)
    small.close()


# A user's script, as the README shows it, saved without an `if __name__ == "__main__":` guard.
README_SCRIPT = """
import rewardkit as rk

print("script body ran")
env = rk.load_environment("math")
sample = rk.Sample(id="q", prompt=[rk.user("Expand (x + 1)^2.")], answer="x^2 + 2x + 1")
with rk.Scorer(env) as scorer:
    result = scorer.score_sync(sample, "<think>square it</think><answer>(x+1)^2</answer>")
print("score", result.score, result.info.get("verdict"), result.error)
"""

# TRL's examples have no main guard either; the reward function scores through the same pool.
TRL_SCRIPT = """
from rewardkit.adapters import trl_reward_func

print("script body ran")
reward = trl_reward_func("math")
scores = reward(
    prompts=[[{"role": "user", "content": "Expand (x + 1)^2."}]] * 2,
    completions=["<answer>(x+1)^2</answer>", "<answer>x^2 + 1</answer>"],
    answer=["x^2 + 2x + 1"] * 2,
)
print("score", scores)
"""


@pytest.mark.parametrize(
    ("script", "expected"),
    [(README_SCRIPT, "score 1.0 symbolic None"), (TRL_SCRIPT, "score [1.0, 0.0]")],
    ids=["readme", "trl"],
)
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_script_without_a_main_guard_runs_once_and_scores(tmp_path, script, expected, how):
    path = tmp_path / "user_script.py"
    path.write_text(textwrap.dedent(script))
    command = [sys.executable, str(path)] if how == "file" else [sys.executable, "-"]
    done = subprocess.run(
        command,
        input=None if how == "file" else path.read_text(),
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script body ran", expected], done.stdout + done.stderr
    assert "leaked semaphore" not in done.stderr and "Traceback" not in done.stderr, done.stderr
