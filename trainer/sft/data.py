"""SFT rows: read as chat messages, tokenised so that only the assistant's tokens are trained.

A row is rendered with the model's chat template turn by turn: the text up to an assistant turn (with the
generation prompt) is context, the turn itself up to and including its end-of-turn token is trained. Each
piece is tokenised on its own, exactly as the GRPO trainer tokenises a prompt and then samples a reply, so
a cold start teaches the tokens RL will sample. A template that rewrites earlier turns (one that drops
older `<think>` blocks) cannot be cut this way; the row then becomes one example per such turn, each
rendered as the model sees that turn at inference.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.data import iter_records
from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.host import PluginHost
from rewardkit.scoring import Scorer
from rewardkit.trainer.config import EnvironmentConfig
from rewardkit.trainer.envs import build_slots
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.sft.config import SFTDataConfig
from rewardkit.types import Message, Sample, assistant, user

# An environment's sample stream may be endless (procedural ones): read this many without a `limit`.
DEFAULT_ENV_ROWS = 10_000


@dataclass(frozen=True)
class ChatRow:
    messages: list[Message]
    sample: Sample | None = None  # the environment sample the row answers (held-out accuracy)


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    trained: list[bool]  # per token: part of an assistant reply (the loss is taken there only)

    @property
    def trained_tokens(self) -> int:
        return sum(self.trained)


# -- reading --------------------------------------------------------------------------------------------
def read_rows(
    config: SFTDataConfig,
    host: PluginHost | None = None,
    environments: Mapping[str, Environment] | None = None,
) -> tuple[list[ChatRow], Scorer | None]:
    """The configured rows, and a Scorer for them when they come from an environment."""
    if config.environment is None:
        return [_file_row(record, config.messages, i) for i, record in enumerate(iter_records(config))], None
    source = config.environment
    entry = EnvironmentConfig(
        name=source.name,
        config=source.config,
        rubric=source.rubric,
        split=source.split,
        max_samples=config.limit or DEFAULT_ENV_ROWS,
        score_timeout=source.score_timeout,
    )
    try:
        slot = build_slots([entry], host, environments)[0]
    except ConfigError as error:
        raise ConfigError(str(error).replace("environments.0", "data.environment", 1)) from None
    rows = []
    for sample in slot.samples:
        reference = slot.env.reference_completion(sample)
        if reference is not None:
            rows.append(ChatRow([*sample.prompt, assistant(reference)], sample))
    if not rows:
        raise ConfigError(
            f"data.environment: {source.name} gave no reference completion for its {source.split!r} samples; "
            "use a data file (data.path) instead"
        )
    return rows, slot.scorer


def _file_row(record: Mapping[str, Any], column: str, index: int) -> ChatRow:
    """`messages` rows (what `rewardkit export` writes), or TRL's prompt / completion pairs."""
    if column in record:
        messages = record[column]
    elif "prompt" in record and "completion" in record:
        messages = _as_messages(record["prompt"], "user") + _as_messages(record["completion"], "assistant")
    else:
        raise ConfigError(
            f"data: row {index} has no {column!r} column (it has: {', '.join(sorted(record))}); name the "
            "messages column with data.messages=COLUMN, or give prompt and completion columns"
        )
    if not isinstance(messages, list) or not all(_is_message(m) for m in messages):
        raise ConfigError(f"data: row {index}: {column} must be a list of {{role, content}} messages")
    if not any(m["role"] == "assistant" for m in messages):
        raise ConfigError(f"data: row {index} has no assistant message, so nothing to train on")
    return ChatRow([_message(m) for m in messages])


def _as_messages(value: Any, role: str) -> list[Any]:
    return [user(value) if role == "user" else assistant(value)] if isinstance(value, str) else list(value)


def _is_message(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("role"), str) and "content" in value


def _message(value: Mapping[str, Any]) -> Message:
    # Columns from Parquet or datasets carry every key of any row (None where absent): keep those set.
    return {key: item for key, item in value.items() if item is not None}  # type: ignore[return-value]


def hold_out(rows: list[ChatRow], count: int, seed: int) -> tuple[list[ChatRow], list[ChatRow]]:
    """(training rows, `count` held-out rows), drawn by the seed rather than taken from the file's end."""
    if count >= len(rows):
        raise ConfigError(f"data.eval_rows: {count} held-out rows leave none of the {len(rows)} to train on")
    order = np.random.default_rng([seed, 1]).permutation(len(rows))
    held = set(order[:count].tolist())
    return [r for i, r in enumerate(rows) if i not in held], [rows[i] for i in sorted(held)]


# -- tokenising -----------------------------------------------------------------------------------------
def tokenize(
    messages: Sequence[Message], renderer: TurnRenderer, stop_ids: Collection[int], max_length: int
) -> list[Example]:
    """The row's examples (one, unless the template rewrites earlier turns), cut at `max_length` tokens."""
    examples: list[Example] = []
    ids: list[int] = []
    trained: list[bool] = []
    covered = ""
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = renderer.text(messages[:index], (), generation_prompt=True)
        after = renderer.text(messages[: index + 1], (), generation_prompt=False)
        if not after.startswith(before):
            raise ConfigError(
                "data: the chat template renders an assistant turn differently from what follows its "
                "generation prompt, so the reply's tokens cannot be told apart; use another template "
                "(model.chat_template)"
            )
        if not before.startswith(covered):  # earlier turns rewritten: a new example from the full render
            examples.append(Example(ids, trained))
            ids, trained, covered = [], [], ""
        context = renderer.encode(before[len(covered) :])
        reply = renderer.encode(after[len(before) :])
        cut = _reply_end(reply, stop_ids)
        ids += context + reply
        trained += [False] * len(context) + [True] * cut + [False] * (len(reply) - cut)
        covered = after
    examples.append(Example(ids, trained))
    return [Example(e.input_ids[:max_length], e.trained[:max_length]) for e in examples if e.input_ids]


def _reply_end(reply: list[int], stop_ids: Collection[int]) -> int:
    """Tokens of the reply that are trained: through its end-of-turn token (what ends a sampled reply),
    not the template's text after it (a newline before the next turn)."""
    for position in range(len(reply) - 1, -1, -1):
        if reply[position] in stop_ids:
            return position + 1
    return len(reply)


def tokenize_rows(
    rows: Sequence[ChatRow], renderer: TurnRenderer, stop_ids: Collection[int], max_length: int
) -> tuple[list[Example], int]:
    """Every row's examples, and how many were dropped for having no trained token left."""
    examples = list(
        itertools.chain.from_iterable(tokenize(r.messages, renderer, stop_ids, max_length) for r in rows)
    )
    kept = [e for e in examples if e.trained_tokens]
    return kept, len(examples) - len(kept)


# -- order ----------------------------------------------------------------------------------------------
class EpochOrder:
    """Batches of example indices: each epoch a permutation that depends only on (seed, epoch), so the
    position (epoch, index) is the whole state a resumed run needs."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        self.epoch, self.position = 0, 0
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 2, self.epoch]).permutation(self.size)

    def next_batch(self, count: int) -> list[int]:
        return [self._next() for _ in range(count)]

    def _next(self) -> int:
        index = int(self._order[self.position])
        self.position += 1
        if self.position == self.size:
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._permutation()
        return index

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "size": self.size}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        if state["size"] != self.size:
            raise ConfigError(
                f"resume: the checkpoint was trained on {state['size']} examples, this data has {self.size}"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._permutation()


def batches(examples: Sequence[Example], indices: Sequence[int], size: int) -> Iterator[list[Example]]:
    """Micro-batches of `size` of the chosen examples."""
    chosen = [examples[i] for i in indices]
    for start in range(0, len(chosen), size):
        yield chosen[start : start + size]
