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
