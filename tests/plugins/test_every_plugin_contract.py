"""The contract kit over every environment and reward the installed plugins register.

The names come from the plugin host, not from a list kept here: a plugin that registers a name with no
case below fails this test until one is added, so nothing is trained on unchecked. A reward is checked
the way an environment is: its gold completion earns the top of its range, and empty, 1 MB, binary and
unbalanced-markup completions score inside the range without raising or hanging.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rewardkit as rk
from rewardkit.host import PluginHost
from rewardkit.testing import check_environment, check_reward

DATA = Path(__file__).resolve().parents[1] / "data"
IFEVAL = [json.loads(line) for line in (DATA / "ifeval" / "gold.jsonl").open(encoding="utf-8")][:3]
R1 = (
    "<think>\nTwo plus two is four. First, add. Then, check.\n</think>\n"
    "<answer>\nLa réponse est quatre.\n</answer>"
)
KOREAN = "<answer>안녕하세요 저는 학생입니다 오늘 날씨가 정말 좋네요 우리는 공원에 갑니다</answer>"
CODE = {"sandbox": "docker", "sandbox_options": {"pool_size": 1}, "timeout": 60.0, "test_timeout": 30.0}
CODE_ENVS = {"code", "humaneval", "mbpp"}
EPISODE_MATH = {"base": "math.procedural", "base_config": {"kinds": ["arithmetic"], "seed": 3}}

# Distributions whose own suite runs the contract over every environment they register (their tasks are
# generated from an upstream list, so cases here would only copy that suite).
OWN_CONTRACT_SUITE = {
    "rewardkit-reasoning-gym": "examples/rewardkit-reasoning-gym/tests/test_tasks.py",
}

_installed = PluginHost().load_entry_points()
ENVIRONMENTS = sorted(
    name
    for name, entry in _installed.environments.items()
    if name == entry.cls.name and _installed.plugins[entry.plugin].distribution not in OWN_CONTRACT_SUITE
)
REWARDS = sorted(_installed.rewards)


class Fixtures:
    """What the cases need, built only when a case asks for it."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def corpus(self, name: str) -> str:
        return str(self.request.getfixturevalue("corpus")(name))

    def jsonl(self, rows: list[dict[str, Any]]) -> str:
        path = self.request.getfixturevalue("tmp_path") / "rows.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        return str(path)

    def judge_backend(self) -> dict[str, Any]:
        model = self.request.getfixturevalue("tiny_judge_model")
        return {"kind": "transformers", "model": str(model), "batch_size": 8}


@pytest.fixture(scope="session")
def tiny_judge_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rewardkit.trainer.tiny import TinySpec, build_tiny

    spec = TinySpec(hidden=64, layers=2, heads=2, kv_heads=2, vocab=600, max_positions=4096)
    return build_tiny(spec, tmp_path_factory.mktemp("judge") / "tiny-judge")


def _judge_settings(f: Fixtures) -> dict[str, Any]:
    # Choice verdicts: one forward pass per request, and deterministic, as the contract checks.
    return {"backend": f.judge_backend(), "verdict": "choice", "cache": False, "max_response_chars": 256}


SUM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
STDIO_ROWS = [  # records shaped like samples, with stdin/stdout cases: the generic `code` format
    {
        "id": "sum",
        "prompt": "Print the sum of two integers.",
        "solution": SUM,
        "cases": [{"input": "1 2", "output": "3"}],
    },
    {
        "id": "neg",
        "prompt": "Print the sum of two integers.",
        "solution": SUM,
        "cases": [{"input": "-4 1", "output": "-3"}],
    },
]


def _ifeval_gold(sample: rk.Sample) -> str:
    return next(row["gold"] for row in IFEVAL if row["key"] == sample.info["key"])


# name -> (the environment, check_environment options)
EnvCase = Callable[[Fixtures], tuple[rk.Environment, dict[str, Any]]]
ENV_CASES: dict[str, EnvCase] = {
    "math": lambda f: (rk.load_environment("math"), {}),
    "math.procedural": lambda f: (rk.load_environment("math.procedural"), {}),
    "gsm8k": lambda f: (rk.load_environment("gsm8k", data={"path": f.corpus("gsm8k_test.jsonl")}), {}),
    "math500": lambda f: (
        rk.load_environment(
            "math500",
            data={"path": f.corpus("math500.jsonl"), "split": "test", "columns": {"question": "problem"}},
        ),
        {},
    ),
    "ifeval": lambda f: (
        rk.load_environment("ifeval", data={"path": str(DATA / "ifeval" / "gold.jsonl")}),
        {"gold": _ifeval_gold, "n_samples": 3},
    ),
    "judge": lambda f: (rk.load_environment("judge", **_judge_settings(f)), {"n_samples": 1}),
    "code": lambda f: (
        rk.load_environment("code", data={"path": f.jsonl(STDIO_ROWS), "split": "test"}, **CODE),
        {},
    ),
    "humaneval": lambda f: (
        rk.load_environment("humaneval", data={"path": f.corpus("humaneval.jsonl"), "split": "test"}, **CODE),
        {"n_samples": 2},
    ),
    "mbpp": lambda f: (
        rk.load_environment("mbpp", data={"path": f.corpus("mbpp.jsonl"), "split": "test"}, **CODE),
        {"n_samples": 2},
    ),
    # Episode environments: the contract drives each with its reference policy.
    "math.python": lambda f: (
        rk.load_environment("math.python", sandbox="unsafe_local", **EPISODE_MATH),
        {"n_samples": 2},
    ),
    "retry": lambda f: (rk.load_environment("retry", attempts=3, **EPISODE_MATH), {"n_samples": 2}),
    "textarena": lambda f: (
        rk.load_environment("textarena", game="GuessTheNumber-v0", size=4),
        {"n_samples": 2},
    ),
    # The example third-party plugins. wordcount's gold is a completion of exactly the target length.
    "wordcount": lambda f: (rk.load_environment("wordcount"), {"gold": lambda s: "word " * s.answer}),
    "citysize": lambda f: (rk.load_environment("citysize"), {}),
}


def _asked(prompt: str, answer: Any = None, info: dict[str, Any] | None = None) -> list[rk.Sample]:
    return [rk.Sample(f"s{i}", [rk.user(prompt)], answer=answer, info=info or {}) for i in range(3)]


FRENCH = _asked("Quelle est la somme de deux et deux ?")
# name -> (params, gold completion, samples)
RewardCase = Callable[[Fixtures], tuple[dict[str, Any], str, list[rk.Sample]]]
SLOW_REWARDS = {"judge.score": 60.0}  # a CPU judge model: more than the default deadline on a loaded machine
REWARD_CASES: dict[str, RewardCase] = {
    "format.think_answer": lambda f: ({}, R1, FRENCH),
    "format.tag_count": lambda f: ({"newlines": True}, R1, FRENCH),
    "format.json": lambda f: (
        {"schema": {"type": "object", "required": ["a"]}},
        '```json\n{"a": 1}\n```',
        FRENCH,
    ),
    "format.regex": lambda f: (
        {"pattern": r"<answer>\s*\d+\s*</answer>", "mode": "partial"},
        "<answer>4</answer>",
        FRENCH,
    ),
    "format.length": lambda f: ({"min": 1, "max": 50}, R1, FRENCH),
    "format.overlong": lambda f: ({"max": 100, "cache": 20}, R1, FRENCH),
    "format.repetition": lambda f: ({}, R1, FRENCH),
    "format.reasoning_steps": lambda f: ({"min_steps": 2}, R1, FRENCH),
    "language.match": lambda f: ({"language": "fr"}, R1, FRENCH),
    "language.consistency": lambda f: ({"language": "en"}, R1, FRENCH),
    "language.script_mixing": lambda f: ({}, R1, FRENCH),
    "language.id": lambda f: ({}, KOREAN, FRENCH),  # a metric: a script only one language uses is certain
    "math.accuracy": lambda f: ({}, "<answer>4</answer>", _asked("What is 2 + 2?", answer="4")),
    "ifeval.instructions": lambda f: (
        {},
        IFEVAL[0]["gold"],
        _asked(IFEVAL[0]["prompt"], info={k: IFEVAL[0][k] for k in ("instruction_id_list", "kwargs")}),
    ),
    # The gold equals the reference: scored without a judge call; the other inputs go to the model.
    "judge.score": lambda f: (_judge_settings(f), "Paris", _asked("Capital of France?", answer="Paris")),
}


def _marks(name: str) -> tuple[pytest.MarkDecorator, ...]:
    return (pytest.mark.docker,) if name in CODE_ENVS else ()


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in ENVIRONMENTS])
def test_every_environment_passes_the_contract(name: str, request: pytest.FixtureRequest) -> None:
    if name not in ENV_CASES:
        pytest.fail(f"environment {name!r} has no contract case: add one to ENV_CASES")
    if name in CODE_ENVS:
        from rewardkit.sandbox.testing import require_backend

        require_backend("docker")
    env, options = ENV_CASES[name](Fixtures(request))
    report = check_environment(env, raise_on_failure=False, **options)
    assert report.passed, report.summary()


@pytest.mark.parametrize("name", REWARDS)
def test_every_reward_passes_the_contract(name: str, request: pytest.FixtureRequest) -> None:
    if name not in REWARD_CASES:
        pytest.fail(f"reward {name!r} has no contract case: add one to REWARD_CASES")
    params, gold, samples = REWARD_CASES[name](Fixtures(request))
    timeout = SLOW_REWARDS.get(name)
    report = check_reward(name, gold, params=params, samples=samples, timeout=timeout, raise_on_failure=False)
    assert report.passed, report.summary()


def test_distributions_with_their_own_contract_suite_have_one() -> None:
    root = Path(__file__).resolve().parents[2]
    for distribution, suite in OWN_CONTRACT_SUITE.items():
        assert "check_environment(" in (root / suite).read_text(encoding="utf-8"), distribution
