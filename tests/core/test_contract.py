"""The contract kit must catch each way an environment can break the contract."""

from __future__ import annotations

import asyncio
import random

import pytest

import rewardkit as rk
from rewardkit.testing import ContractError, check_environment


class Base(rk.Environment):
    name = "base"

    def dataset(self, split):
        for i in range(3):
            yield rk.Sample(id=str(i), prompt=[rk.user("q")], answer="a")

    async def score(self, sample, completion):
        return float(completion == sample.answer)


def failures_of(env) -> list[str]:
    with pytest.raises(ContractError) as caught:
        check_environment(env, timeout=1.0)
    return [failure.name for failure in caught.value.report.failures]


def test_a_correct_env_passes():
    assert check_environment(Base()).passed


def test_duplicate_ids():
    class Dup(Base):
        def dataset(self, split):
            yield from (rk.Sample(id="same", prompt=[rk.user("q")], answer="a") for _ in range(2))

    assert failures_of(Dup()) == ["sample ids are unique (first 2)"]


def test_samples_that_do_not_survive_json():
    class Unjson(Base):
        def dataset(self, split):
            yield rk.Sample(id="0", prompt=[rk.user("q")], answer={1, 2})

        def reference_completion(self, sample):
            return "a"

    assert "samples survive a JSON round trip" in failures_of(Unjson())


def test_gold_below_the_top_of_the_range():
    class Stingy(Base):
        async def score(self, sample, completion):
            return 0.5

    assert failures_of(Stingy()) == ["gold completion earns the top of the range (1)"]


def test_crashing_and_hanging_on_adversarial_input():
    class Fragile(Base):
        async def score(self, sample, completion):
            if not completion:
                raise IndexError("empty")
            if len(completion) > 100_000:
                await asyncio.sleep(60)
            return float(completion == sample.answer)

    failed = failures_of(Fragile())
    assert "empty completion scores in range without error" in failed
    assert "1MB completion scores in range without error" in failed


def test_nondeterminism_when_declared_deterministic():
    class Moody(Base):
        async def score(self, sample, completion):
            return 1.0 if completion == sample.answer else random.random()

    assert failures_of(Moody()) == ["scores are deterministic (metadata.deterministic)"]


def test_empty_dataset_and_bad_prompts():
    class Empty(Base):
        def dataset(self, split):
            return iter(())

    assert failures_of(Empty()) == ["dataset('train') is non-empty"]

    class NoPrompt(Base):
        def dataset(self, split):
            yield rk.Sample(id="0", prompt=[], answer="a")

    assert failures_of(NoPrompt()) == ["prompts are non-empty lists of {role, content} messages"]


def test_pytest_plugin_fixture_is_available(check_env):
    assert check_env is check_environment


def test_check_reward_runs_the_contract_on_a_registered_reward(echo_host):
    from rewardkit.testing import check_reward

    assert check_reward("test.short", "ok", params={"limit": 5}).passed
    with pytest.raises(ContractError, match="gold completion earns the top"):
        check_reward("test.short", "far too long for the limit", params={"limit": 5})
