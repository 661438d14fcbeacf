"""Every format reward returns an in-range score, never raises, and stays fast on hostile input."""

import random
import time
from typing import Any

import pytest

from rewardkit import make_rubric
from rewardkit.host import PluginHost
from rewardkit.outcome import normalize
from rewardkit.plugins import format as fmt

PARAMS: dict[str, list[dict[str, Any]]] = {
    "format.think_answer": [{}, {"mode": "lenient"}, {"think_opened": True, "answer_tag": None}],
    "format.tag_count": [{}, {"newlines": True}],
    "format.json": [{}, {"schema": {"type": "object"}}],
    "format.regex": [{"pattern": r"<answer>\d+</answer>"}, {"pattern": r"\d+", "mode": "partial"}],
    "format.length": [{"min": 10, "max": 200}, {"max": 300, "overlong": 100}],
    "format.overlong": [{"max": 300, "cache": 100}],
    "format.repetition": [{}],
    "format.reasoning_steps": [{}],
}
MB = 1 << 20


def hostile_inputs() -> dict[str, str]:
    rng = random.Random(0)
    garbage = "".join(chr(rng.randrange(0, 0x10FFFF)) for _ in range(4096))
    garbage = garbage.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    return {
        "empty": "",
        "1MB text": ("The answer is 4. " * (MB // 17 + 1))[:MB],
        "1MB open tags": ("<think>" * (MB // 7))[:MB],
        "1MB nested tags": ("<think><answer>" * (MB // 15))[:MB],
        "1MB brackets": "[" * MB,
        "1MB digits": "1" * MB,
        "1MB step markers": ("Step 1: " * (MB // 8))[:MB],
        "binary": garbage,
        "nul bytes": "\x00" * 1000,
    }


def test_all_rewards_are_registered() -> None:
    host = PluginHost()
    info = host.add_plugin("format", fmt)
    assert not info.errors
    assert set(PARAMS) == set(host.rewards)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_hostile_inputs_score_in_range_without_error(name: str) -> None:
    host = PluginHost()
    host.add_plugin("format", fmt)
    fn, reward_range = host.reward(name).fn, host.reward(name).reward_range
    for params in PARAMS[name]:
        for label, text in hostile_inputs().items():
            started = time.perf_counter()
            result = normalize(fn(None, text, **params), name, reward_range)
            elapsed = time.perf_counter() - started
            assert result.error is None, (name, params, label, result.error)
            assert result.score is not None, (name, label)
            assert reward_range[0] <= result.score <= reward_range[1]
            assert elapsed < 2.0, (name, params, label, elapsed)


def test_rubric_by_name() -> None:
    host = PluginHost()
    host.add_plugin("format", fmt)
    rubric = make_rubric(
        {"format.think_answer": 1.0, "format.length": {"weight": 0.1, "target": 3}}, host=host
    )
    assert rubric.reward_range == (-0.1, 1.1)
