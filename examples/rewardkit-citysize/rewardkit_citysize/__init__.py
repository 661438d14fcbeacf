"""citysize: a multi-turn rewardkit environment. Replace the data, the tool and the checks with your own.

The model answers which of two cities has more people. It may look populations up with a tool (at most
`max_lookups` per episode); a wrong answer gets one more try; the reward is 1 for a right first answer and
`retry_reward` for a right second one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import rewardkit as rk
from rewardkit.episodes import Policy, scripted

REWARDKIT_PLUGIN_API = 1

POPULATION = {"Oslo": 709_000, "Lima": 10_090_000, "Porto": 232_000, "Quito": 2_800_000, "Cairo": 10_230_000}


class CitysizeEnv(rk.EpisodeEnvironment):
    """Which city is larger? Look populations up with a tool, answer with the city's name."""

    name = "citysize"
    max_turns = 6  # assistant messages per episode: lookups and answers together

    class Config(rk.EnvConfig):
        max_lookups: int = 4
        retry_reward: float = 0.5

    def dataset(self, split: str) -> Iterator[rk.Sample]:
        cities = sorted(POPULATION)
        pairs = [(a, b) for a in cities for b in cities if a < b]
        for i, (a, b) in enumerate(pairs):
            question = f"Which city has more inhabitants, {a} or {b}? Answer with the city's name only."
            larger = a if POPULATION[a] > POPULATION[b] else b
            yield rk.Sample(id=f"{split}-{i}", prompt=[rk.user(question)], answer=larger)

    def tools(self, sample: rk.Sample) -> list[Any]:
        return [population]

    async def start(self, sample: rk.Sample) -> dict[str, Any]:
        # Per-episode state: the tool reads its lookup budget from here, `step` counts the answers.
        return {"answer": sample.answer, "lookups_left": self.config.max_lookups, "answers": 0}

    async def step(self, state: dict[str, Any], reply: rk.Message, tool_results: list[rk.Message]) -> rk.Step:
        if tool_results:  # the model called the tool: show it the results, the episode goes on
            return rk.Step(tool_results)
        state["answers"] += 1
        if state["answers"] == 1 and not _answers(reply["content"], state["answer"]):
            return rk.Step([rk.user("That is not right. Look again and give one city's name.")], reward=0.0)
        return rk.Step(done=True)

    async def score_trajectory(self, sample: rk.Sample, trajectory: rk.Trajectory) -> rk.RewardResult:
        replies = [m for m in trajectory.messages if m["role"] == "assistant" and not m.get("tool_calls")]
        answers = [m["content"] for m in replies]
        if answers and _answers(answers[0], sample.answer):
            return rk.RewardResult(1.0, components={"attempts": 1.0})
        if len(answers) > 1 and _answers(answers[1], sample.answer):
            return rk.RewardResult(self.config.retry_reward, components={"attempts": 2.0})
        return rk.RewardResult(0.0, components={"attempts": float(len(answers))})

    def reference_policy(self, sample: rk.Sample) -> Policy:
        a, b = (city for city in POPULATION if city in sample.prompt[0]["content"])
        call = '<tool_call>{"name": "population", "arguments": {"city": "%s"}}</tool_call>'
        return scripted([call % a, call % b, str(sample.answer)])

    async def close(self, state: dict[str, Any]) -> None:
        return None  # release per-episode resources here (a sandbox, a game, a browser page)


@rk.tool
async def population(city: str, state: dict[str, Any]) -> str:
    """Look up how many people live in a city.

    Args:
        city: the city's name, e.g. "Oslo"
    """
    if state["lookups_left"] <= 0:
        return "error: no lookups left; answer now"
    state["lookups_left"] -= 1
    if city not in POPULATION:
        return f"unknown city {city!r}; known: {', '.join(sorted(POPULATION))}"
    return f"{city}: {POPULATION[city]} inhabitants"


def _answers(text: str, answer: Any) -> bool:
    return text.strip().rstrip(".").lower() == str(answer).lower()


@rk.hookimpl
def register_environments(register):  # type: ignore[no-untyped-def]
    register(CitysizeEnv)
