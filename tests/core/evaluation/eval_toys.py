"""Environments for the evaluation tests, installed as a real plugin (a dist-info on sys.path) so that
`rewardkit eval` in a subprocess finds them by entry point, as a user's plugin would be found."""

from __future__ import annotations

import asyncio
import os

import rewardkit as rk


class Answer(rk.Environment):
    """Passes when the reply is exactly the answer; reports the reply as its parsed answer."""

    name = "toy.answer"
    splits = ("train", "test")

    class Config(rk.EnvConfig):
        size: int = 3
        strict: bool = True  # False: a reply that merely contains the answer passes (a "fixed" verifier)

    def dataset(self, split):
        for i in range(self.config.size):
            yield rk.Sample(id=f"{split}-{i}", prompt=[rk.user(f"question {i}")], answer=str(i))

    async def score(self, sample, completion):
        reply = completion.strip()
        correct = reply == sample.answer if self.config.strict else sample.answer in reply
        if os.environ.get("EVAL_TOYS_SCORE_DOWN") and reply == "infra":
            return rk.RewardResult(score=None, error="scoring backend down")
        return rk.RewardResult(
            score=float(correct), components={"chars": len(reply)}, info={"parsed_answer": reply or None}
        )


class Graded(rk.Environment):
    """A continuous reward: the share of the answer's characters found in the reply."""

    name = "toy.graded"

    def dataset(self, split):
        for i in range(2):
            yield rk.Sample(id=f"g-{i}", prompt=[rk.user(f"spell {i}")], answer="abcd")

    async def score(self, sample, completion):
        return sum(ch in completion for ch in sample.answer) / len(sample.answer)


class Stateful(Answer):
    """Declares that its verdicts depend on episode state: `rescore` must refuse it."""

    name = "toy.stateful"
    stateful_scoring = True


LOOKUPS: list[str] = []  # every call of the lookup tool in this process (rescore must add none)
LOOPS: list[object] = []  # the event loops toy.lookup's setup and scoring ran on (the host's, always)


@rk.tool
def lookup(key: str) -> str:
    """Look up the secret value stored under a key.

    Args:
        key: the key, e.g. "x"
    """
    LOOKUPS.append(key)
    return f"value-{key}"


class Lookup(rk.EpisodeEnvironment):
    """A tool-using episode: the model calls `lookup`, reads the result and answers with it. Passes when the
    final reply is the sample's answer (`strict: false`: when it contains it)."""

    name = "toy.lookup"
    max_turns = 4

    class Config(rk.EnvConfig):
        size: int = 2
        strict: bool = True

    def dataset(self, split):
        for i in range(self.config.size):
            question = rk.user(f"What is stored under key {i}?")
            yield rk.Sample(id=f"k-{i}", prompt=[question], answer=f"value-{i}")

    def tools(self, sample):
        return [lookup]

    async def setup(self):
        LOOPS.append(asyncio.get_running_loop())

    async def score_trajectory(self, sample, trajectory):
        LOOPS.append(asyncio.get_running_loop())
        reply = trajectory.completion.strip()
        correct = reply == sample.answer if self.config.strict else sample.answer in reply
        looked_up = any(m["role"] == "tool" for m in trajectory.messages)
        return rk.RewardResult(
            float(correct), components={"looked_up": float(looked_up)}, info={"parsed_answer": reply or None}
        )


@rk.hookimpl
def register_environments(register):
    register(Answer)
    register(Graded)
    register(Stateful)
    register(Lookup)
