"""Watching reasoning emerge: per environment, how long completions are, how often they reflect ("wait",
"let me check"), and how often they change their answer on the way — the "aha" signals of DeepSeek-R1.

These are text statistics, logged beside the rewards; they never enter the reward. The phrases and the
patterns that find a stated answer are configurable (`logging.reasoning`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from pydantic import Field

from rewardkit.config import StrictModel

REFLECTION_PHRASES = (
    "wait",
    "hmm",
    "aha",
    "let me check",
    "let me verify",
    "let me re-check",
    "let me recheck",
    "double-check",
    "double check",
    "verify",
    "re-evaluate",
    "reevaluate",
    "reconsider",
    "on second thought",
    "i made a mistake",
    "that's not right",
    "alternatively",
)
ANSWER_PATTERNS = (
    r"<answer>(.*?)</answer>",
    r"\\boxed\{([^{}]*)\}",
    r"\banswer\s*(?:is|:|=)\s*\$?([-+]?[\w./]+)",
)
THINK_END = "</think>"


class ReasoningMetricsConfig(StrictModel):
    enabled: bool = True
    reflection_phrases: list[str] = Field(
        list(REFLECTION_PHRASES),
        description="phrases (case-insensitive, whole words) that count as reflecting on the reasoning",
    )
    answer_patterns: list[str] = Field(
        list(ANSWER_PATTERNS),
        description="regular expressions whose first group is a stated answer; two different stated "
        "answers in one completion count as a change of answer",
    )


@dataclass(frozen=True)
class Detector:
    config: ReasoningMetricsConfig

    @cached_property
    def reflection(self) -> re.Pattern[str] | None:
        phrases = sorted((re.escape(p.strip()) for p in self.config.reflection_phrases if p.strip()), key=len)
        if not phrases:
            return None
        return re.compile(r"(?<!\w)(?:" + "|".join(reversed(phrases)) + r")(?!\w)", re.IGNORECASE)

    @cached_property
    def answers(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE | re.DOTALL) for p in self.config.answer_patterns]

    def reflects(self, completion: str) -> bool:
        """A reflection phrase in the reasoning (the think block where there is one)."""
        return self.reflection is not None and self.reflection.search(reasoning(completion)) is not None

    def stated_answers(self, completion: str) -> list[str]:
        """Every answer the completion states, in order of appearance (reasoning and final answer)."""
        found: list[tuple[int, str]] = []
        for pattern in self.answers:
            found += [(m.start(), m.group(1)) for m in pattern.finditer(completion) if m.groups()]
        return [_normal(text) for _, text in sorted(found) if _normal(text)]

    def changes_answer(self, completion: str) -> bool:
        return len(set(self.stated_answers(completion))) > 1


def reasoning(completion: str) -> str:
    """The think block: the text before `</think>` (after `<think>` when it is there), else everything."""
    head, closed, _ = completion.partition(THINK_END)
    if not closed:
        return completion
    _, opened, body = head.partition("<think>")
    return body if opened else head


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".,;:$").lower()


def reasoning_metrics(
    completions: Sequence[str], envs: Sequence[str], lengths: Sequence[float], config: ReasoningMetricsConfig
) -> dict[str, float]:
    """`completion/<env>/length_mean`, `reasoning/<env>/reflection_rate` and
    `reasoning/<env>/answer_change_rate`, and the same over all environments (`reasoning/reflection_rate`)."""
    if not config.enabled or not completions:
        return {}
    detector = Detector(config)
    groups: dict[str, list[tuple[float, bool, bool]]] = defaultdict(list)
    for text, env, length in zip(completions, envs, lengths, strict=True):
        row = (float(length), detector.reflects(text), detector.changes_answer(text))
        groups[env].append(row)
        groups[""].append(row)
    out: dict[str, float] = {}
    for env, rows in groups.items():
        count = len(rows)
        prefix = f"/{env}" if env else ""
        if env:
            out[f"completion{prefix}/length_mean"] = sum(r[0] for r in rows) / count
        out[f"reasoning{prefix}/reflection_rate"] = sum(r[1] for r in rows) / count
        out[f"reasoning{prefix}/answer_change_rate"] = sum(r[2] for r in rows) / count
    return out
