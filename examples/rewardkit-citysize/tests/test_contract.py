"""The example plugin's own tests, as a plugin author would write them."""

import asyncio

from rewardkit_citysize import CitysizeEnv

import rewardkit as rk
from rewardkit.episodes import run_episode, scripted
from rewardkit.testing import check_environment


def test_passes_the_episode_contract() -> None:
    assert check_environment(CitysizeEnv()).passed


def test_discovered_through_its_entry_point() -> None:
    assert "citysize" in rk.list_environments()
    plugin = next(p for p in rk.get_plugins() if p.name == "citysize")
    assert plugin.distribution == "rewardkit-citysize"


def play(replies: list[str]) -> rk.episodes.EpisodeResult:
    env = CitysizeEnv()
    sample = next(iter(env.dataset("train")))  # Cairo or Lima: Cairo
    return asyncio.run(run_episode(env, sample, scripted(replies)))


def test_right_first_answer_earns_one_and_a_retry_half() -> None:
    assert play(["Cairo"]).result.score == 1.0
    retried = play(["Lima", "Cairo"])
    assert retried.result.score == 0.5
    assert retried.trajectory.messages[1]["content"].startswith("That is not right")
    assert play(["Lima", "Lima"]).result.score == 0.0


def test_the_lookup_budget_is_per_episode() -> None:
    call = '<tool_call>{"name": "population", "arguments": {"city": "Oslo"}}</tool_call>'
    outcome = play([call] * 5 + ["Cairo"])
    tool_results = [m["content"] for m in outcome.trajectory.messages if m["role"] == "tool"]
    assert tool_results[:4] == ["Oslo: 709000 inhabitants"] * 4
    assert tool_results[4] == "error: no lookups left; answer now"
    assert outcome.trajectory.stop_reason == "done"
