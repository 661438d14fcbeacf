"""Scoring spread over Ray actors equals local scoring; environments pickle as their class and config."""

from __future__ import annotations

import asyncio
import itertools
import json
import pickle

import pytest
from click.testing import CliRunner

import rewardkit as rk
from rewardkit.cli.main import cli
from rewardkit.executors import RayOptions, make_scorer
from rewardkit.host import get_host

COMPLETIONS = ["<answer>{a}</answer>", "\\boxed{{{a}}}", "<answer>{a}0</answer>", "", "x" * 5000]


def _rows(n: int = 6) -> tuple[list[rk.Sample], list[str]]:
    samples = list(itertools.islice(rk.load_environment("math").dataset("train"), n))
    pairs = [(s, c.format(a=s.answer)) for s in samples for c in COMPLETIONS]
    return [s for s, _ in pairs], [c for _, c in pairs]


def test_every_installed_environment_pickles_as_its_class_and_config():
    for name, entry in get_host().environments.items():
        if name != entry.cls.name or entry.cls.name.startswith("reasoning_gym."):
            continue  # aliases; the reasoning-gym package tests its own
        try:
            env = entry.cls()
        except rk.RewardkitError:
            continue  # needs a config (judge) or an uninstalled extra
        except ImportError:
            continue
        copy = pickle.loads(pickle.dumps(env))
        assert type(copy) is type(env) and copy.config == env.config, name


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, object_store_memory=100 << 20, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_scoring_equals_local_scoring(ray_cluster):
    samples, completions = _rows()
    env = rk.load_environment("math")
    rubric = {"math": 1.0, "format.think_answer": 0.5}
    timeout = 120.0  # equality is under test, not deadlines: a loaded machine must not turn a score into one
    with make_scorer(env, rubric, timeout) as local:
        local.score_batch_sync(samples, completions)  # the math workers start outside any compared run
        expected = [r.to_dict() for r in local.score_batch_sync(samples, completions)]
    with make_scorer(env, rubric, timeout, executor="ray", ray=RayOptions(actors=2)) as remote:

        async def warm_each_actor() -> None:  # two batches at once go to the two actors
            await asyncio.gather(*(remote.score_batch(samples, completions) for _ in range(2)))

        asyncio.run(warm_each_actor())
        got = [r.to_dict() for r in remote.score_batch_sync(samples, completions)]
        assert remote.reward_range == (0.0, 1.5)
    assert got == expected
    assert ray_cluster.is_initialized()  # a cluster it did not start is left running


@pytest.mark.slow
def test_score_command_with_the_ray_executor(ray_cluster, tmp_path):
    samples, completions = _rows(3)
    source = tmp_path / "rows.jsonl"
    source.write_text(
        "".join(
            json.dumps({"answer": s.answer, "completion": c}) + "\n"
            for s, c in zip(samples, completions, strict=True)
        )
    )
    outputs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.jsonl"
        result = CliRunner().invoke(
            cli,
            [
                "score",
                "math",
                "--input",
                str(source),
                "--output",
                str(out),
                "--executor",
                executor,
                "--ray-actors",
                "2",
            ],
        )
        assert result.exit_code == 0, result.output
        outputs[executor] = [
            (row["score"], row["error"]) for row in map(json.loads, out.read_text().splitlines())
        ]
    assert outputs["ray"] == outputs["local"]
    assert len(outputs["ray"]) == len(samples)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("an episode was scored in the driver, not in a Ray actor")


@pytest.mark.slow
def test_ray_actors_score_episodes_stored_and_played(ray_cluster, monkeypatch):
    from rewardkit.episodes import EpisodeSession
    from rewardkit.plugins.episodes.retry import Retry
    from rewardkit.runtime import host_loop
    from rewardkit.types import Trajectory, assistant, user

    env = rk.load_environment("retry", attempts=3, decay=0.5)
    samples = list(itertools.islice(env.dataset("train"), 3))
    wrong, right = "\\boxed{-1}", "\\boxed{{{}}}"
    trajectories = [
        Trajectory([assistant(wrong), user("again"), assistant(right.format(samples[0].answer))]),
        Trajectory([assistant(right.format(samples[1].answer))]),
        Trajectory([assistant(wrong)] * 3),
    ]
    timeout = 120.0
    with make_scorer(env, timeout=timeout) as local:
        expected = [r.to_dict() for r in asyncio.run(local.score_trajectories(samples, trajectories))]
    assert [r["score"] for r in expected] == [0.5, 1.0, 0.0]

    async def play(session: EpisodeSession) -> rk.RewardResult:
        await session.begin()
        for text in (wrong, right.format(samples[0].answer)):
            await session.respond(assistant(text))
        return (await session.finish()).result

    monkeypatch.setattr(Retry, "score_trajectory", _refuse)  # from here on the driver cannot score one
    with make_scorer(env, timeout=timeout, executor="ray", ray=RayOptions(actors=1)) as remote:
        got = [r.to_dict() for r in asyncio.run(remote.score_trajectories(samples, trajectories))]
        host_loop().run(env.setup())  # the episode's steps run here: its attempts are graded here
        try:
            played = host_loop().run(play(EpisodeSession(env, samples[0], scorer=remote)))
        finally:
            host_loop().run(env.teardown())
    assert got == expected
    assert played.score == 0.5 and played.components == {"attempts": 2.0, "solved": 1.0}
