import time
from collections import Counter

import pytest

import rewardkit as rk
from rewardkit.scoring import Scorer
from rewardkit.trainer.data import Prompt, PromptSource
from rewardkit.trainer.rewards import (
    PendingRewards,
    RewardErrorRateExceeded,
    RewardRouter,
    check_errors,
    reward_metrics,
)


def _samples(prefix, n):
    return [rk.Sample(id=f"{prefix}-{i}", prompt=[rk.user(str(i))]) for i in range(n)]


def test_mixture_follows_weights_and_walks_each_dataset_without_repeats():
    source = PromptSource([("a", _samples("a", 50), 3.0), ("b", _samples("b", 1000), 1.0)], seed=1)
    batch = source.next_batch(400)
    counts = Counter(p.env for p in batch)
    assert 260 < counts["a"] < 340  # ~300 expected
    first_epoch = [p.sample.id for p in batch if p.env == "a"][:50]
    assert len(set(first_epoch)) == 50  # a full pass before any sample repeats


def test_state_round_trip_reproduces_the_same_order():
    data = [("a", _samples("a", 7), 1.0), ("b", _samples("b", 5), 1.0)]
    source = PromptSource(data, seed=3)
    source.next_batch(9)
    state = source.state_dict()
    expected = [(p.env, p.sample.id) for p in source.next_batch(20)]
    resumed = PromptSource(data, seed=3)
    resumed.load_state_dict(state)
    assert [(p.env, p.sample.id) for p in resumed.next_batch(20)] == expected


class Slow(rk.Environment):
    name = "slow"

    async def score(self, sample, completion):
        import asyncio

        await asyncio.sleep(0.2)
        return rk.RewardResult(score=float(len(completion)), components={"chars": len(completion)})

    def dataset(self, split):
        return _samples("s", 2)

    reward_range = (0.0, 100.0)


class NotApplicable(Slow):
    name = "na"

    async def score(self, sample, completion):
        return rk.RewardResult(score=None)


def test_router_sends_each_completion_to_its_environment_in_the_background():
    router = RewardRouter({"slow": Scorer(Slow()), "na": Scorer(NotApplicable())})
    router.start()
    try:
        prompts = [Prompt("slow", _samples("s", 1)[0]), Prompt("na", _samples("n", 1)[0])] * 2
        pending = PendingRewards()
        router.submit(prompts, ["ab", "x", "abcd", "y"], pending)
        assert not pending.parts[0][1].done()  # submit does not wait for scoring
        time.sleep(0.3)  # "generation of the next chunk"
        results = router.collect(pending)
    finally:
        router.close()
    assert [r.score for r in results] == [2.0, None, 4.0, None]
    assert router.times.overlap > 0.5  # most of the scoring time was hidden behind other work
    metrics = reward_metrics(results, [p.env for p in prompts])
    assert metrics["reward/slow/mean"] == 3.0
    assert metrics["reward/slow/chars/mean"] == 3.0
    assert metrics["reward/skipped"] == 2.0
    assert "reward/na/mean" not in metrics


class BlocksItsLoop(Slow):
    """Awaits like a judge call, then one completion blocks the event loop (a sync sleep in async code)."""

    name = "blocks"

    async def score(self, sample, completion):
        import asyncio

        for _ in range(5):
            await asyncio.sleep(0.02)
        if completion == "hang":
            time.sleep(2)
        return 1.0


def test_a_reward_blocking_its_loop_on_one_sample_fails_only_that_sample_of_the_step():
    router = RewardRouter({"blocks": Scorer(BlocksItsLoop(), timeout=0.5)})
    router.start()
    try:
        prompts = [Prompt("blocks", sample) for sample in _samples("b", 16)]
        pending = PendingRewards()
        router.submit(prompts, ["hang"] + ["fine"] * 15, pending)
        results = router.collect(pending)
    finally:
        router.close()
    assert results[0].info["error_kind"] == "timeout"
    assert [r.score for r in results[1:]] == [1.0] * 15
    assert check_errors(results, ["blocks"] * 16, limit=0.1, step=1) == 1  # the step goes on


def test_error_rate_above_the_limit_stops_with_a_clear_message():
    results = [rk.RewardResult.failure("sandbox down")] * 2 + [rk.RewardResult(score=1.0)] * 8
    envs = ["code"] * 2 + ["math"] * 8
    assert check_errors(results, envs, limit=0.2, step=5) == 2
    with pytest.raises(
        RewardErrorRateExceeded, match=r"step 5: 2 of 10 rewards failed \(code: 2\).*sandbox down"
    ):
        check_errors(results, envs, limit=0.1, step=5)
