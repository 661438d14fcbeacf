"""Every format and language reward passes the contract kit (`check_reward`)."""

from typing import Any

import pytest

from rewardkit import Sample, user
from rewardkit.host import PluginHost
from rewardkit.plugins import format as fmt
from rewardkit.plugins import language as lang
from rewardkit.testing import check_reward

R1 = (
    "<think>\nTwo plus two is four. First, add. Then, check.\n</think>\n"
    "<answer>\nLa réponse est quatre.\n</answer>"
)
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "format.think_answer": ({}, R1),
    "format.tag_count": ({"newlines": True}, R1),
    "format.json": ({"schema": {"type": "object", "required": ["a"]}}, '```json\n{"a": 1}\n```'),
    "format.regex": ({"pattern": r"<answer>\s*\d+\s*</answer>", "mode": "partial"}, "<answer>4</answer>"),
    "format.length": ({"min": 1, "max": 50}, R1),
    "format.overlong": ({"max": 100, "cache": 20}, R1),
    "format.repetition": ({}, R1),
    "format.reasoning_steps": ({"min_steps": 2}, R1),
    "language.match": ({"language": "fr"}, R1),
    "language.consistency": ({"language": "en"}, R1),
    "language.script_mixing": ({}, R1),
}


def host() -> PluginHost:
    plugins = PluginHost()
    plugins.add_plugin("format", fmt)
    plugins.add_plugin("language", lang)
    return plugins


@pytest.mark.parametrize("name", sorted(CASES))
def test_reward_passes_the_contract(name: str) -> None:
    params, gold = CASES[name]
    samples = [Sample(f"s{i}", [user("Quelle est la somme de deux et deux ?")]) for i in range(3)]
    report = check_reward(name, gold, params=params, samples=samples, host=host())
    assert report.passed, report.summary()


def test_every_registered_reward_is_covered() -> None:
    assert set(host().rewards) - set(CASES) == {"language.id"}  # a metric: its top needs certainty
