"""Chat templates with tools and with thinking for the tiny test model, and small episode environments."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rewardkit as rk
from rewardkit.episodes import EpisodeEnvironment, Step
from rewardkit.types import Message, RewardResult, Sample, Trajectory

# ChatML with Hermes tool calls (the shape of Qwen2.5's template): tools in the system message, calls as
# <tool_call> JSON in the assistant turn, results as <tool_response> in a user turn.
TOOL_TEMPLATE = """
{%- if tools %}<|im_start|>system
{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}

{% endif %}# Tools
<tools>
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}</tools>
Call a tool with <tool_call>{"name": ..., "arguments": ...}</tool_call>.<|im_end|>
{% elif messages[0]['role'] == 'system' %}<|im_start|>system
{{ messages[0]['content'] }}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message['role'] == 'system' and loop.first %}
{%- elif message['role'] == 'assistant' %}<|im_start|>assistant
{{ message['content'] }}
{%- if message.tool_calls %}{% for call in message.tool_calls %}
<tool_call>
{{ {'name': call['function']['name'], 'arguments': call['function']['arguments']} | tojson }}
</tool_call>{% endfor %}{% endif %}<|im_end|>
{% elif message['role'] == 'tool' %}<|im_start|>user
<tool_response>
{{ message['content'] }}
</tool_response><|im_end|>
{% else %}<|im_start|>{{ message['role'] }}
{{ message['content'] }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

# A thinking template in the style of R1 / Qwen3: the generation prompt opens a <think> block, and assistant
# turns before the last user message keep only what follows their reasoning (a reply that never closed its
# think block was all reasoning and renders empty). Not append-only: a new user message rewrites history.
THINKING_TEMPLATE = """
{%- set ns = namespace(last_user=-1) %}
{%- for message in messages %}
{%- if message['role'] == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}
{%- endfor %}
{%- for message in messages %}
{%- if message['role'] == 'assistant' %}
{%- set content = message['content'] %}
{%- if loop.index0 < ns.last_user %}
{%- set content = content.split('</think>')[-1] if '</think>' in content else '' %}
{%- endif %}<|im_start|>assistant
{{ content }}<|im_end|>
{% else %}<|im_start|>{{ message['role'] }}
{{ message['content'] }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
<think>
{% endif %}"""


def model_with_template(source: Path, target: Path, template: str) -> Path:
    """A copy of the tiny model directory whose tokenizer uses `template`."""
    from transformers import AutoTokenizer

    if not target.exists():
        shutil.copytree(source, target)
        tokenizer = AutoTokenizer.from_pretrained(target)
        tokenizer.chat_template = template
        tokenizer.save_pretrained(target)
    return target


class Feedback(EpisodeEnvironment):
    """Three turns of "again" feedback, then done; the outcome is the share of think/answer tags in the last
    reply (so a random model's reward varies and can rise)."""

    name = "toy.feedback"
    max_turns = 3
    latency = 0.0  # seconds each step waits (a slow async environment)

    class Config(rk.EnvConfig):
        size: int = 32

    def dataset(self, split: str) -> list[Sample]:
        return [
            Sample(f"f{i}", [rk.user(f"What is {i} + {i % 5}?")], answer=str(i + i % 5))
            for i in range(self.config.size)
        ]

    async def step(self, state: Any, reply: Message, tool_results: list[Message]) -> Step:
        await asyncio.sleep(self.latency)
        return Step([rk.user("Write it again, with tags.")], reward=0.0)

    async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
        tags = ("<think>", "</think>", "<answer>", "</answer>")
        return RewardResult(sum(tag in trajectory.completion for tag in tags) / 4)


def tag_replies(rng: Any) -> list[tuple[list[dict[str, Any]], str]]:
    """(conversation, reply) pairs: a sum question and a short tagged answer."""
    a, b = rng.randint(0, 20), rng.randint(0, 9)
    reply = rng.choice([f"<answer>{a + b}</answer>", f"<think>{a} + {b}</think>{a + b}", f"{a + b}"])
    return [([{"role": "user", "content": f"What is {a} + {b}?"}], reply)]


def supervise(
    model: Any,
    tokenizer: Any,
    steps: int = 60,
    examples: Callable[[Any], list[tuple[list[dict[str, Any]], str]]] = tag_replies,
    tools: list[dict[str, Any]] | None = None,
    rows: int = 16,
    seed: int = 0,
) -> Any:
    """A short SFT of `model` on `examples(rng)` replies (then <|im_end|>), loss on the replies only.

    Random weights almost never sample the end-of-turn token, so every reply would hit its length limit and
    no episode would reach a second turn; a few seconds of this fixes that.
    """
    import random

    import torch

    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    loss = torch.zeros(())
    for _ in range(steps):
        batch = []
        while len(batch) < rows:
            for history, reply in examples(rng):
                head = tokenizer.apply_chat_template(
                    history, tools=tools, add_generation_prompt=True, tokenize=False
                )
                ids = tokenizer(head + reply + "<|im_end|>", add_special_tokens=False)["input_ids"]
                batch.append((ids, len(tokenizer(head, add_special_tokens=False)["input_ids"])))
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (ids, start) in enumerate(batch):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, start : len(ids)] = torch.tensor(ids[start:])
            attention[i, : len(ids)] = 1
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.supervised_loss = float(loss.detach())
    return model
