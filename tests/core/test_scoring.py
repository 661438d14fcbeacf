"""Outcome semantics and host-enforced timeouts, from a thread and inside a running event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import rewardkit as rk
from rewardkit.deadline import METER
from rewardkit.scoring import Scorer


@pytest.fixture
def scorer(echo_host):
    env = rk.load_environment("echo")
    with Scorer(env, timeout=0.5) as scorer:
        yield scorer


@pytest.fixture
def sample():
    return rk.Sample(id="s", prompt=[rk.user("say 1")], answer="1")


def test_four_outcome_kinds(scorer, sample):
    right, wrong, skipped, failed = scorer.score_batch_sync([sample] * 4, ["1", "2", "skip", "infra"])
    assert (right.score, right.error, right.components) == (1.0, None, {"length": 1})
    assert (wrong.score, wrong.error) == (0.0, None)
    assert skipped.skipped and skipped.score is None
    assert failed.score is None and failed.error == "echo: backend unavailable"


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("raise", "echo raised RuntimeError: verifier bug"),
        ("nan", "echo returned a non-finite score (nan); scores must be finite"),
        ("big", "echo returned score 7.0 outside its declared reward_range [0.0, 1.0]"),
    ],
)
def test_plugin_faults_become_error_outcomes_naming_the_plugin(scorer, sample, completion, expected):
    result = scorer.score_sync(sample, completion)
    assert result.score is None
    assert result.error == expected


def test_async_hang_times_out(scorer, sample):
    started = time.perf_counter()
    result = scorer.score_sync(sample, "hang-async")
    assert result.error == "echo timed out after 0.5s"
    assert result.info["error_kind"] == "timeout"
    assert time.perf_counter() - started < 1.5


class Neighbours(rk.Environment):
    """Completions: "ok" awaits five short sleeps (in flight when a neighbour blocks the loop); "block-loop"
    blocks the loop for 2 s (a sync sleep inside async code); "block-thread" hangs in a sync reward."""

    name = "neighbours"

    def dataset(self, split):
        return []

    async def score(self, sample, completion):
        for _ in range(5):
            await asyncio.sleep(0.02)
        if completion == "block-loop":
            time.sleep(2)
        return 1.0


def hangs_in_a_thread(sample, completion):
    if completion == "block-thread":
        time.sleep(2)
    return 1.0


def test_a_reward_blocking_the_loop_fails_only_its_own_sample():
    with Scorer(Neighbours(), timeout=0.5) as scorer:
        results = scorer.score_batch_sync([rk.Sample("s", [rk.user("q")])] * 16, ["block-loop"] + ["ok"] * 15)
    assert results[0].error == "neighbours timed out after 0.5s"
    assert [r.score for r in results[1:]] == [1.0] * 15


def test_a_sync_reward_hanging_in_its_thread_fails_only_its_own_sample():
    rubric = rk.Rubric().add("hangs", hangs_in_a_thread)
    with Scorer(Neighbours(), rubric=rubric, timeout=0.5) as scorer:
        results = scorer.score_batch_sync(
            [rk.Sample("s", [rk.user("q")])] * 16, ["block-thread"] + ["ok"] * 15
        )
    assert results[0].error == "hangs timed out after 0.5s"
    assert [r.score for r in results[1:]] == [1.0] * 15


def test_a_loop_blocked_for_good_gives_up_naming_the_blocker(scorer, sample, monkeypatch):
    import rewardkit.scoring

    monkeypatch.setattr(rewardkit.scoring, "STALL_GRACE", 0.5)  # echo's "block-loop" blocks for 3 s
    started = time.perf_counter()
    result = scorer.score_sync(sample, "block-loop")
    assert "echo has blocked the host's scoring loop" in result.error
    assert time.perf_counter() - started < 2.9  # returned before the loop came back
    while METER.blocked() is not None:
        time.sleep(0.05)
    assert scorer.score_sync(sample, "1").score == 1.0  # the same loop serves the next call once free


def test_all_scorers_share_the_hosts_one_loop(echo_host):
    from rewardkit.runtime import host_loop

    loops = []

    class Where(rk.Environment):
        name = "where"

        def dataset(self, split):
            return []

        async def setup(self):
            loops.append(asyncio.get_running_loop())

        async def score(self, sample, completion):
            loops.append(asyncio.get_running_loop())
            return 1.0

    sample = rk.Sample("s", [rk.user("q")])
    with Scorer(Where()) as first, Scorer(Where()) as second:
        first.score_sync(sample, "a")
        asyncio.run(second.score(sample, "b"))
        threading.Thread(target=lambda: second.score_sync(sample, "c")).start()
        time.sleep(0.5)
    assert len(loops) == 5 and set(loops) == {host_loop().loop}


def test_a_coroutine_awaited_from_another_loop_runs_on_the_hosts_loop_and_is_cancelled_with_its_caller():
    from rewardkit.runtime import host_loop

    host = host_loop()
    ran_on, cancelled = [], threading.Event()

    async def where():
        ran_on.append(asyncio.get_running_loop())
        return 7

    async def forever():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def caller():
        assert await host.call(where()) == 7
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(host.call(forever()), 0.2)

    asyncio.run(caller())
    assert ran_on == [host.loop]
    assert cancelled.wait(5)


def test_a_blocking_call_from_the_scoring_loop_itself_is_refused(echo_host, sample):
    outer_env = rk.load_environment("echo")

    class Nested(rk.Environment):
        name = "nested"

        def dataset(self, split):
            return []

        async def score(self, sample, completion):
            with Scorer(outer_env) as inner:
                return inner.score_sync(sample, completion)

    with Scorer(Nested()) as scorer:
        result = scorer.score_sync(sample, "1")
    assert "blocking scoring call was made on the host's scoring loop" in result.error


def test_timeout_holds_from_a_worker_thread(scorer, sample):
    results = []
    thread = threading.Thread(target=lambda: results.append(scorer.score_sync(sample, "hang-async")))
    thread.start()
    thread.join(timeout=3)
    assert not thread.is_alive()
    assert results[0].info["error_kind"] == "timeout"


def test_timeout_holds_inside_a_running_event_loop(scorer, sample):
    async def main():
        started = time.perf_counter()
        result = await scorer.score(sample, "hang-async")
        return result, time.perf_counter() - started

    result, elapsed = asyncio.run(main())
    assert result.info["error_kind"] == "timeout"
    assert elapsed < 1.5


def test_one_bad_sample_does_not_spoil_its_batch(scorer, sample):
    results = scorer.score_batch_sync([sample] * 3, ["1", "raise", "hang-async"])
    assert [r.score for r in results] == [1.0, None, None]
    assert results[1].info["error_kind"] == "exception"
    assert results[2].info["error_kind"] == "timeout"


def test_metadata_timeout_is_the_default(echo_host):
    class Slow(rk.Environment):
        name = "slow"
        score_timeout = 0.2

        def dataset(self, split):
            return []

        async def score(self, sample, completion):
            await asyncio.sleep(10)

    with Scorer(Slow()) as scorer:
        assert scorer.timeout == 0.2
        assert scorer.score_sync(rk.Sample("x", [rk.user("q")]), "c").info["error_kind"] == "timeout"


def test_overridden_score_batch_is_used_and_validated():
    class Batched(rk.Environment):
        name = "batched"
        calls = 0

        def dataset(self, split):
            return []

        async def score(self, sample, completion):
            raise AssertionError("score_batch should be used")

        async def score_batch(self, samples, completions):
            type(self).calls += 1
            return [0.5, float("inf")][: len(samples)]

    with Scorer(Batched()) as scorer:
        results = scorer.score_batch_sync([rk.Sample("a", [rk.user("q")])] * 2, ["x", "y"])
    assert Batched.calls == 1
    assert results[0].score == 0.5
    assert "non-finite" in results[1].error


def test_setup_failure_surfaces_before_scoring():
    class NeedsThing(rk.Environment):
        name = "needs"

        def dataset(self, split):
            return []

        async def score(self, sample, completion):
            return 1.0

        async def setup(self):
            raise rk.RewardkitError("the thing is missing: run `make thing`")

    with pytest.raises(rk.RewardkitError, match="make thing"):
        Scorer(NeedsThing()).start()


def test_a_caller_that_gives_up_stops_the_scoring_on_the_hosts_loop():
    started, cancelled = threading.Event(), threading.Event()

    class Patient(rk.Environment):
        name = "patient"

        def dataset(self, split):
            return []

        async def score(self, sample, completion):
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    async def give_up(scorer):
        task = asyncio.ensure_future(scorer.score(rk.Sample("s", [rk.user("q")]), "c"))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with Scorer(Patient(), timeout=3600) as scorer:
        asyncio.run(give_up(scorer))
        assert cancelled.wait(5)
