"""The episode contract and the host's rules: tools, malformed calls, stop reasons, close, concurrency."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from typing import Any

import pytest

import rewardkit as rk
import rewardkit.testing
from rewardkit.adapters import SAMPLE_COLUMN, trl_environment_factory, trl_episode_reward
from rewardkit.episodes import (
    EpisodeEnvironment,
    ReplyParser,
    Step,
    ToolInfrastructureError,
    run_episode,
    run_episodes,
    scripted,
)
from rewardkit.host import PluginHost
from rewardkit.types import Message, RewardResult, Sample, Trajectory, user


def call(name: str, **arguments: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


@rk.tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first
        b: the second
    """
    return a + b


class Calculator(EpisodeEnvironment):
    """Answer with the sum; an `add` tool is offered."""

    name = "test.calculator"
    max_turns = 4
    closed: list[Any] = []

    def dataset(self, split: str) -> list[Sample]:
        return [Sample(f"s{i}", [user(f"{i} + {i}?")], answer=2 * i) for i in range(3)]

    def tools(self, sample: Sample) -> list[Any]:
        return [add]

    async def start(self, sample: Sample) -> dict[str, Any]:
        return {"sample": sample.id}

    async def close(self, state: Any) -> None:
        type(self).closed.append(state)

    async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
        return RewardResult(1.0 if trajectory.completion.strip() == str(sample.answer) else 0.0)

    def reference_policy(self, sample: Sample) -> rk.episodes.Policy:
        a = int(sample.id[1:])
        return scripted([call("add", a=a, b=a), str(sample.answer)])


@pytest.fixture(autouse=True)
def _reset_closed() -> None:
    Calculator.closed = []


def play(
    env: EpisodeEnvironment, replies: list[Any], sample: Sample | None = None
) -> rk.episodes.EpisodeResult:
    sample = sample or next(iter(env.dataset("train")))
    return asyncio.run(run_episode(env, sample, scripted(replies)))


def test_tool_schema_comes_from_hints_and_docstring() -> None:
    schema = add.schema()["function"]
    assert schema["name"] == "add"
    assert schema["description"] == "Add two integers."
    assert schema["parameters"]["properties"]["a"] == {"type": "integer", "description": "the first"}
    assert schema["parameters"]["required"] == ["a", "b"]


def test_tool_arguments_are_validated() -> None:
    assert asyncio.run(add.call('{"a": "2", "b": 3}')) == "5"
    with pytest.raises(rk.episodes.ToolCallError, match="invalid arguments for add: b"):
        asyncio.run(add.call({"a": 1, "b": "x"}))
    with pytest.raises(rk.episodes.ToolCallError, match="not valid JSON"):
        asyncio.run(add.call("{a: 1"))
    with pytest.raises(rk.episodes.ToolCallError, match="c: Extra inputs"):
        asyncio.run(add.call({"a": 1, "b": 2, "c": 3}))


def test_gold_episode_runs_tools_and_scores() -> None:
    env = Calculator()
    sample = env.dataset("train")[2]
    outcome = asyncio.run(run_episode(env, sample, env.reference_policy(sample)))
    roles = [m["role"] for m in outcome.trajectory.messages]
    assert roles == ["assistant", "tool", "assistant"]
    assert outcome.trajectory.messages[1]["content"] == "4"
    assert outcome.trajectory.stop_reason == "done"
    assert outcome.result.score == 1.0
    assert outcome.stats.tool_calls == 1
    assert Calculator.closed == [{"sample": "s2"}]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<tool_call>{not json</tool_call>", "could not be parsed"),
        (call("subtract", a=1, b=2), "unknown tool 'subtract'; available tools: add"),
        (call("add", a="one", b=2), "invalid arguments for add: a"),
    ],
)
def test_malformed_calls_are_answered_with_an_error(reply: str, expected: str) -> None:
    outcome = play(Calculator(), [reply, "0"])
    error_message = outcome.trajectory.messages[1]
    assert expected in error_message["content"]
    assert outcome.trajectory.stop_reason == "done"
    assert outcome.stats.malformed == 1
    assert outcome.result.score == 1.0  # sample s0: 0 + 0 = 0


def test_malformed_calls_can_end_the_episode() -> None:
    class Strict(Calculator):
        malformed_tool_calls = "end"

    outcome = play(Strict(), [call("nope"), "0"])
    assert outcome.trajectory.stop_reason == "malformed_tool_call"
    assert outcome.trajectory.turns == 1
    assert outcome.result.score == 0.0  # the model's fault: scored, not excluded
    assert len(Calculator.closed) == 1


def test_max_turns_bounds_an_episode_that_never_stops() -> None:
    outcome = play(Calculator(), [call("add", a=1, b=1)])
    assert outcome.trajectory.stop_reason == "max_turns"
    assert outcome.trajectory.turns == Calculator.max_turns
    assert len(Calculator.closed) == 1


def test_a_truncated_reply_ends_with_length() -> None:
    outcome = play(Calculator(), [rk.Reply("an unfinished thou", truncated=True)])
    assert outcome.trajectory.stop_reason == "length"
    assert outcome.result.score == 0.0


class Flaky(Calculator):
    name = "test.flaky"
    step_timeout = 0.2
    mode = "raise"

    async def step(self, state: Any, reply: Message, tool_results: list[Message]) -> Step:
        if self.mode == "raise":
            raise RuntimeError("boom")
        if self.mode == "hang":
            await asyncio.sleep(10)
        return Step([])  # neither messages nor done: a contract violation


@pytest.mark.parametrize(
    ("mode", "reason", "error"),
    [
        ("raise", "env_error", "test.flaky.step raised RuntimeError: boom"),
        ("hang", "timeout", "test.flaky.step timed out after 0.2s"),
        ("empty", "env_error", "step returned no messages and done=False"),
    ],
)
def test_environment_failures_are_errors_and_close_still_runs(mode: str, reason: str, error: str) -> None:
    env = Flaky()
    env.mode = mode
    outcome = play(env, ["hello"])
    assert outcome.trajectory.stop_reason == reason
    assert outcome.result.score is None
    assert error in (outcome.result.error or "")
    assert len(Calculator.closed) == 1


def test_tool_infrastructure_failure_is_an_env_error() -> None:
    @rk.tool
    def broken(x: int) -> int:
        """Always down."""
        raise ToolInfrastructureError("sandbox unreachable")

    class Down(Calculator):
        def tools(self, sample: Sample) -> list[Any]:
            return [broken]

    outcome = play(Down(), [call("broken", x=1)])
    assert outcome.trajectory.stop_reason == "env_error"
    assert "sandbox unreachable" in (outcome.result.error or "")


def test_per_turn_rewards_and_step_info_reach_the_trajectory() -> None:
    class Rewarding(Calculator):
        async def step(self, state: Any, reply: Message, tool_results: list[Message]) -> Step:
            done = not tool_results
            return Step(tool_results, done=done, reward=0.5 if done else 0.1, info={"last": reply["content"]})

    outcome = play(Rewarding(), [call("add", a=0, b=0), "0"])
    assert outcome.trajectory.turn_rewards == (0.1, 0.5)
    assert outcome.trajectory.info == {"last": "0"}


def test_scores_outside_the_range_are_reported_not_trained_on() -> None:
    class Wild(Calculator):
        async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
            return RewardResult(7.0)

    outcome = play(Wild(), ["0"])
    assert outcome.result.score is None
    assert "outside its declared reward_range" in (outcome.result.error or "")


def test_state_is_isolated_between_concurrent_episodes() -> None:
    @rk.tool
    async def remember(note: str, state: dict[str, Any]) -> str:
        """Store a note in this episode.

        Args:
            note: what to keep
        """
        await asyncio.sleep(0.01)
        state.setdefault("notes", []).append(note)
        return ",".join(state["notes"])

    class Notes(Calculator):
        def tools(self, sample: Sample) -> list[Any]:
            return [remember]

    assert "state" not in remember.schema()["function"]["parameters"]["properties"]

    def policy(messages: list[Message], tools: list[dict[str, Any]]) -> str:
        turn = sum(m["role"] == "assistant" for m in messages)
        return call("remember", note=messages[0]["content"]) if turn < 2 else "done"

    env = Notes()
    samples = env.dataset("train")
    outcomes = asyncio.run(run_episodes(env, samples, policy))
    for sample, outcome in zip(samples, outcomes, strict=True):
        prompt = sample.prompt[0]["content"]
        assert outcome.trajectory.messages[3]["content"] == f"{prompt},{prompt}"


def test_slow_async_tools_of_many_episodes_overlap() -> None:
    latency, episodes = 0.3, 12

    @rk.tool
    async def slow(x: int) -> int:
        """Wait, then echo.

        Args:
            x: the value
        """
        await asyncio.sleep(latency)
        return x

    class Slow(Calculator):
        def tools(self, sample: Sample) -> list[Any]:
            return [slow]

        def dataset(self, split: str) -> list[Sample]:
            return [Sample(f"s{i}", [user("go")], answer=0) for i in range(episodes)]

    env = Slow()
    started = time.perf_counter()
    outcomes = asyncio.run(run_episodes(env, env.dataset("train"), scripted([call("slow", x=1), "0"])))
    elapsed = time.perf_counter() - started
    assert all(o.trajectory.messages[1]["content"] == "1" for o in outcomes)
    assert elapsed < latency * 3, f"{episodes} episodes took {elapsed:.2f}s; tools did not overlap"


def test_single_turn_environments_are_one_turn_episodes() -> None:
    class Echo(rk.Environment):
        name = "test.echo"

        def dataset(self, split: str) -> list[Sample]:
            return [Sample("a", [user("say hi")], answer="hi")]

        async def score(self, sample: Sample, completion: str) -> RewardResult:
            return RewardResult(float(completion == "hi"))

    outcome = asyncio.run(run_episode(Echo(), Echo().dataset("train")[0], scripted(["hi"])))
    assert outcome.trajectory == Trajectory.single("hi")
    assert outcome.result.score == 1.0


def test_episode_environments_score_single_completions() -> None:
    env = Calculator()
    sample = env.dataset("train")[1]
    assert asyncio.run(env.score(sample, "2")).score == 1.0


def test_tools_registered_through_the_hook_are_found_by_name() -> None:
    class Plugin:
        @staticmethod
        @rk.hookimpl
        def register_tools(register: Any) -> None:
            async def lookup(word: str) -> str:
                """Look a word up.

                Args:
                    word: the word
                """
                return word.upper()

            register("dict.lookup", lookup, timeout=5)

    host = PluginHost()
    info = host.add_plugin("dict", Plugin())
    assert info.tools == ["dict.lookup"], info.errors

    class Uses(Calculator):
        def tools(self, sample: Sample) -> list[Any]:
            return ["dict.lookup"]

    outcome = asyncio.run(
        run_episode(
            Uses(), Uses().dataset("train")[0], scripted([call("dict.lookup", word="tea"), "0"]), host=host
        )
    )
    assert outcome.trajectory.messages[1] == {"role": "tool", "content": "TEA", "name": "dict.lookup"}
    assert host.tool("dict.lookup").timeout == 5


def test_hermes_replies_parse_with_text_and_several_calls() -> None:
    parser = ReplyParser("hermes")
    parsed = parser.parse("Let me add. " + call("add", a=1, b=2) + call("add", a=3, b=4))
    assert parsed.error is None
    assert parsed.message["content"] == "Let me add."
    calls = parsed.message["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    assert parser.parse("no tools here").message == {"role": "assistant", "content": "no tools here"}
    broken = parser.parse('<tool_call>{"name": "add"')
    assert broken.error is not None
    assert broken.message["content"] == '<tool_call>{"name": "add"'


def test_the_contract_kit_passes_a_good_episode_environment() -> None:
    report = rk.testing.check_environment(Calculator(), n_samples=2)
    assert report.passed
    assert any("concurrent episodes" in r.name for r in report.results)


def test_the_contract_kit_catches_state_shared_between_episodes() -> None:
    class Leaky(Calculator):
        shared: list[str] = []

        async def step(self, state: Any, reply: Message, tool_results: list[Message]) -> Step:
            await asyncio.sleep(0.01)
            type(self).shared.append(reply["content"])  # every episode sees every other's replies
            return Step(tool_results or [user(str(len(type(self).shared)))], done=len(type(self).shared) > 50)

    report = rk.testing.check_environment(Leaky(), n_samples=2, raise_on_failure=False)
    failed = {r.name for r in report.failures}
    assert any("concurrent episodes" in name for name in failed), report.summary()


def test_the_contract_kit_needs_a_gold_policy() -> None:
    class NoGold(Calculator):
        def reference_policy(self, sample: Sample) -> None:
            return None

    report = rk.testing.check_environment(NoGold(), n_samples=2, raise_on_failure=False)
    assert [r.name for r in report.failures] == ["gold policy earns the top of the range"]


# -- TRL's environment_factory -------------------------------------------------------------------------


def test_tools_become_methods_with_schemas_trl_can_read() -> None:
    from transformers.utils import get_json_schema

    factory = trl_environment_factory(Calculator())
    instance = factory()
    members = [name for name, _ in inspect.getmembers(type(instance), predicate=inspect.isfunction)]
    assert [m for m in members if not m.startswith("_")] == ["add", "reset"]
    schema = get_json_schema(instance.add)["function"]
    assert schema["name"] == "add"
    assert schema["parameters"]["properties"]["a"] == {"type": "integer", "description": "the first"}


def test_an_episode_runs_and_scores_through_the_adapter() -> None:
    env = Calculator()
    Calculator.closed = []
    sample = env.dataset("train")[2]
    row = {"prompt": sample.prompt, SAMPLE_COLUMN: json.dumps(sample.to_dict())}
    instance = trl_environment_factory(env)()
    instance.reset(**row)
    assert instance.add(a=2, b=2) == "4"
    assert instance.add(a="x", b=2).startswith("error: invalid arguments for add")
    call = {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}
    completion = [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "add", "content": "4"},
        {"role": "assistant", "content": "4"},
    ]
    reward = trl_episode_reward(env)
    assert reward([sample.prompt], [completion], environments=[instance]) == [1.0]
    assert Calculator.closed == [{"sample": "s2"}]  # scored, then closed
    wrong = [{"role": "assistant", "content": "5"}]
    assert reward([sample.prompt], [wrong], **{SAMPLE_COLUMN: [row[SAMPLE_COLUMN]]}) == [0.0]


def test_the_multi_turn_example_plugin_is_discovered_and_passes_the_contract() -> None:
    if "citysize" not in rk.list_environments():
        pytest.skip("the example plugin rewardkit-citysize is not installed (scripts/setup.sh installs it)")
    env = rk.load_environment("citysize")
    assert isinstance(env, EpisodeEnvironment)
    assert rk.testing.check_environment(env, n_samples=2).passed


def test_a_rubric_scores_the_trajectory_with_the_environment_and_the_completion_with_the_rest() -> None:
    env = Calculator()
    seen: list[str] = []

    def short(sample: Sample, completion: str) -> float:
        seen.append(completion)
        return float(len(completion) < 5)

    rubric = rk.Rubric().add(env.name, env.score, 1.0).add("short", short, 0.5)
    sample = env.dataset("train")[1]
    policy = scripted([call("add", a=1, b=1), "2"])
    outcome = asyncio.run(run_episode(env, sample, policy, rubric=rubric))
    assert outcome.result.score == 1.5
    assert outcome.result.components == {"test.calculator": 1.0, "short": 1.0}
    assert seen == ["2"]  # the final completion, not the tool call
