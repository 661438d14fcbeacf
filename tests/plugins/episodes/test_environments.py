"""The bundled episode environments, driven by scripted policies to their gold and failure outcomes, and
each passing the episode contract kit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rewardkit import load_environment
from rewardkit.episodes import EpisodeEnvironment, EpisodeResult, run_episode, scripted
from rewardkit.episodes.runner import prepared
from rewardkit.testing import check_environment
from rewardkit.types import Sample

MATH = {"base": "math.procedural", "base_config": {"kinds": ["arithmetic"], "seed": 3}}


def python_call(code: str) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'python', 'arguments': {'code': code}})}\n</tool_call>"


def play(env: EpisodeEnvironment, sample: Sample, replies: Any) -> EpisodeResult:
    async def go() -> EpisodeResult:
        async with prepared(env):
            policy = replies if callable(replies) else scripted(replies)
            return await run_episode(env, sample, policy)

    return asyncio.run(go())


def first(env: EpisodeEnvironment) -> Sample:
    return next(iter(env.dataset("train")))


# -- math.python -------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _math_workers_started() -> None:
    """Start the math grader's worker pool once, outside any deadline: on a loaded machine its start-up
    alone can pass a grading deadline, which would turn a test's 0.0 into a timeout."""
    from rewardkit.host import get_host
    from rewardkit.types import Sample as S

    accuracy = get_host().reward("math.accuracy").fn
    asyncio.run(accuracy(S("warm", [], answer="2"), "\\boxed{2}"))


@pytest.fixture
def math_python() -> EpisodeEnvironment:
    env = load_environment("math.python", sandbox="unsafe_local", **MATH)
    assert isinstance(env, EpisodeEnvironment)
    return env


def test_math_python_runs_code_then_grades_the_final_answer(math_python: EpisodeEnvironment) -> None:
    sample = first(math_python)
    outcome = play(math_python, sample, [python_call("print(6 * 7)"), f"\\boxed{{{sample.answer}}}"])
    tool_message = outcome.trajectory.messages[1]
    assert tool_message == {"role": "tool", "content": "42\n", "name": "python"}
    assert outcome.trajectory.stop_reason == "done"
    assert outcome.result.score == 1.0


@pytest.mark.parametrize(
    ("replies", "stop", "tool_text"),
    [
        (["\\boxed{-123456}"], "done", None),  # wrong answer, no tool
        ([python_call("1/0"), "\\boxed{-123456}"], "done", "ZeroDivisionError"),  # the program fails
        ([python_call("while True: pass"), "\\boxed{-1}"], "done", "error: the program ran longer"),
        (['<tool_call>{"name": "python", "arguments": {"code": 1+}}</tool_call>', "x"], "done", "error:"),
        ([python_call("print(1)")], "max_turns", "1"),  # never answers
    ],
)
def test_math_python_failure_outcomes(
    math_python: EpisodeEnvironment, replies: list[str], stop: str, tool_text: str | None
) -> None:
    math_python.python.limits = math_python.python.limits.__class__(timeout=1.0)
    outcome = play(math_python, first(math_python), replies)
    assert outcome.trajectory.stop_reason == stop
    assert outcome.result.score == 0.0
    assert outcome.result.error is None
    if tool_text is not None:
        assert tool_text in outcome.trajectory.messages[1]["content"]


def test_math_python_contract(math_python: EpisodeEnvironment) -> None:
    check_environment(math_python, n_samples=2)


@pytest.mark.docker
def test_math_python_in_docker() -> None:
    from rewardkit.sandbox.testing import require_docker

    require_docker()
    env = load_environment("math.python", **MATH)
    sample = first(env)
    outcome = play(env, sample, [python_call("print(2 ** 10)"), f"\\boxed{{{sample.answer}}}"])
    assert outcome.trajectory.messages[1]["content"] == "1024\n"
    assert outcome.result.score == 1.0


# -- retry -------------------------------------------------------------------------------------------


@pytest.fixture
def retry() -> EpisodeEnvironment:
    env = load_environment("retry", attempts=3, decay=0.5, **MATH)
    assert isinstance(env, EpisodeEnvironment)
    return env


@pytest.mark.parametrize(("wrong", "score"), [(0, 1.0), (1, 0.5), (2, 0.25), (3, 0.0)])
def test_retry_reward_decays_with_attempts(retry: EpisodeEnvironment, wrong: int, score: float) -> None:
    sample = first(retry)
    outcome = play(retry, sample, ["\\boxed{-99999}"] * wrong + [f"\\boxed{{{sample.answer}}}"])
    assert outcome.result.score == score
    assert outcome.trajectory.turns == min(wrong + 1, 3)
    feedback = [m for m in outcome.trajectory.messages if m["role"] == "user"]
    assert len(feedback) == min(wrong, 2)
    assert all("incorrect" in m["content"] for m in feedback)
    assert outcome.trajectory.turn_rewards[: min(wrong, 3)] == (0.0,) * min(wrong, 3)


def test_retry_rescores_a_bare_trajectory(retry: EpisodeEnvironment) -> None:
    from rewardkit.types import Trajectory, assistant, user

    sample = first(retry)
    messages = [assistant("\\boxed{-1}"), user("again"), assistant(f"\\boxed{{{sample.answer}}}")]
    result = asyncio.run(retry.score_trajectory(sample, Trajectory(messages)))
    assert result.score == 0.5


def test_retry_contract(retry: EpisodeEnvironment) -> None:
    check_environment(retry, n_samples=2)


# -- textarena ---------------------------------------------------------------------------------------


@pytest.fixture
def guess() -> EpisodeEnvironment:
    env = load_environment("textarena", game="GuessTheNumber-v0", size=4)
    assert isinstance(env, EpisodeEnvironment)
    return env


def test_textarena_gold_player_wins(guess: EpisodeEnvironment) -> None:
    for sample in guess.dataset("train"):
        outcome = play(guess, sample, guess.reference_policy(sample))
        assert outcome.result.score == 1.0, outcome.trajectory.messages
        assert outcome.trajectory.stop_reason == "done"


def test_textarena_failure_outcomes(guess: EpisodeEnvironment) -> None:
    sample = first(guess)
    no_format = play(guess, sample, ["I think it is seven"])  # an invalid move ends the game
    assert no_format.trajectory.stop_reason == "done"
    assert no_format.result.score is not None and no_format.result.score < 1.0
    out_of_range = play(guess, sample, ["[99]"])  # one warning, then the second invalid move ends it
    assert out_of_range.trajectory.turns == 2
    assert out_of_range.trajectory.messages[1]["content"].startswith("You attempted an invalid move")
    assert out_of_range.result.score is not None and out_of_range.result.score < 1.0
    assert "outside the range" in out_of_range.trajectory.info["reason"]


def test_textarena_games_are_seeded_and_leave_global_random_alone(guess: EpisodeEnvironment) -> None:
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    prompts = [s.prompt for s in guess.dataset("train")]
    play(guess, first(guess), ["[10]"])
    assert random.random() == expected
    assert prompts == [s.prompt for s in guess.dataset("train")]


def test_textarena_contract(guess: EpisodeEnvironment) -> None:
    check_environment(guess, n_samples=2)


def test_textarena_rejects_unknown_games() -> None:
    from rewardkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"textarena\.config\.game"):
        load_environment("textarena", game="NoSuchGame-v0")


def test_textarena_without_its_extra_is_listed_and_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from click.testing import CliRunner

    from rewardkit.cli.main import cli
    from rewardkit.errors import ConfigError

    monkeypatch.setitem(sys.modules, "textarena", None)  # as if `rewardkit[games]` were not installed
    listing = CliRunner().invoke(cli, ["envs", "--json"])
    assert listing.exit_code == 0, listing.output
    assert '"textarena"' in listing.output
    with pytest.raises(ConfigError, match=r"pip install 'rewardkit\[games\]'"):
        load_environment("textarena")
