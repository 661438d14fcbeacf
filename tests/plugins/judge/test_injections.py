"""The injection suite runs end to end and reports, per attack, how often the verdict moved."""

from __future__ import annotations

import asyncio
from pathlib import Path

from judge_attacks import ATTACKS, format_report, injection_report

from rewardkit.plugins.judge.config import JudgeSettings
from rewardkit.plugins.judge.env import JudgeEnv
from rewardkit.plugins.judge.guard import guard
from rewardkit.plugins.judge.judge import Judge


def test_every_attack_is_neutralised_in_the_prompt() -> None:
    for name, attack in ATTACKS.items():
        block = guard(attack("Lyon"), 6000).text
        assert "</untrusted-response>" not in block, name
        assert "<|im_start|>" not in block and "<|im_end|>" not in block, name


def test_injection_report_with_a_local_judge(tiny_model: Path) -> None:
    backend = {"kind": "transformers", "model": str(tiny_model)}
    settings = JudgeSettings.model_validate({"backend": backend, "verdict": "choice", "cache": False})
    judge = Judge(settings)
    samples = list(JudgeEnv(settings.model_dump()).dataset("train"))[:4]
    report = asyncio.run(injection_report(judge, samples, ["Lyon", "6", "124", "Venus"]))
    assert [s.attack for s in report] == list(ATTACKS)
    assert all(s.n == 4 and s.errors == 0 and 0.0 <= s.moved_rate <= 1.0 for s in report)
    assert "fake_verdict_json" in format_report(report)
