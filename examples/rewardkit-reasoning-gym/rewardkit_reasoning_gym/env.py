"""One rewardkit environment per reasoning-gym task: seeded, endless, R1-format answers, strict scores."""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Iterator
from itertools import count
from typing import Any, ClassVar, Literal

from pydantic import Field

import rewardkit as rk
from rewardkit.errors import ConfigError
from rewardkit.isolation import ProcessPool, WorkerCrashed
from rewardkit.types import json_safe
from rewardkit_reasoning_gym.answer import extract_answer, normalize
from rewardkit_reasoning_gym.tasks import EXACT, GAMEABLE, NO_REFERENCE, TASKS
from rewardkit_reasoning_gym.worker import task_score, warm_up

PREFIX = "reasoning_gym."
# The test split draws from seeds this far from the training seeds, so the two never share an item in
# any run that reads fewer than this many training items.
TEST_SEED_OFFSET = 2**31
FULL_MARKS = 1.0 - 1e-9
WARM_UP_TIMEOUT = 120.0  # a worker importing reasoning_gym on a loaded machine; not charged to a sample
SAMPLE_FORMAT = rk.SampleFormat(
    required={
        "answer": "the task's gold answer",
        "info.metadata": "the task entry's metadata (its scorer reads it)",
    },
    optional={"info.question": "the task's question text (some scorers read it)"},
)


class ReasoningGymConfig(rk.EnvConfig):
    seed: int = Field(0, ge=0, description="the task generator's seed; the test split uses seed + 2**31")
    size: int | None = Field(None, gt=0, description="items per split; null: endless")
    params: dict[str, Any] = Field(
        {}, description="the task's own config fields (difficulty), as reasoning-gym names them"
    )
    scoring: Literal["strict", "reasoning_gym"] = Field(
        "strict",
        description="strict: 1 for a fully correct answer, else 0; reasoning_gym: the task's own scorer, "
        "with its partial credit (which a policy can game)",
    )
    system_prompt: str | None = Field(
        "DeepSeekZero",
        description="a reasoning-gym prompt name (DeepSeekZero, default, simple, direct, chain_of_draft), "
        "any other text as it is, or null for none",
    )
    answer_tag: str = Field("answer", description="the answer is the text of the last <answer_tag> block")
    max_answer_chars: int = Field(
        10_000, gt=0, description="longer answers score 0 without reaching the task's scorer"
    )
    timeout: float = Field(10.0, gt=0, description="seconds the task's scorer may take for one answer")
    allow_gameable: bool = Field(
        False, description="use a task whose scorer a policy can game (see the plugin's README)"
    )


class ReasoningGymEnv(rk.Environment):
    """Base of the per-task environments; `task` names the reasoning-gym dataset."""

    task: ClassVar[str]
    Config = ReasoningGymConfig
    config: ReasoningGymConfig
    version = "1"
    splits = ("train", "test")
    sample_format = SAMPLE_FORMAT

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if self.task in GAMEABLE and not self.config.allow_gameable:
            raise ConfigError(
                f"{self.name}: its scores can be gamed ({GAMEABLE[self.task]}); "
                "set allow_gameable: true in its config to use it anyway"
            )

    # -- data --------------------------------------------------------------------------------------
    def dataset(self, split: str) -> Iterator[rk.Sample]:
        if split not in self.splits:
            raise ConfigError(f"{self.name}: no split {split!r}; its splits are train and test")
        seed = self.config.seed + (TEST_SEED_OFFSET if split == "test" else 0)
        size = self.config.size or 2**31 - 1
        generator = self._generator(seed, size)
        indices = range(self.config.size) if self.config.size else count()
        for index in indices:
            yield self._sample(split, index, generator[index])

    def _generator(self, seed: int, size: int) -> Any:
        import reasoning_gym

        try:
            return reasoning_gym.create_dataset(self.task, **self.config.params, seed=seed, size=size)
        except (TypeError, ValueError, AssertionError) as error:
            raise ConfigError(f"{self.name}.config.params: {error}") from None

    def _sample(self, split: str, index: int, entry: dict[str, Any]) -> rk.Sample:
        prompt = [rk.user(str(entry["question"]))]
        system = _system_prompt(self.config.system_prompt)
        if system:
            prompt.insert(0, rk.system(system))
        answer = entry.get("answer")
        info = {"question": entry["question"], "metadata": json_safe(entry.get("metadata") or {})}
        return rk.Sample(f"{split}-{index}", prompt, None if answer is None else str(answer), info)

    def reference_completion(self, sample: rk.Sample) -> str | None:
        return None if sample.answer is None else f"<answer>{sample.answer}</answer>"

    def metadata(self) -> rk.EnvMetadata:
        base = super().metadata()
        # A worker's warm-up is not charged to a sample; its scorer's limit is, plus the round trip.
        return rk.EnvMetadata(**{**base.__dict__, "score_timeout": self.config.timeout + 5.0})

    # -- scoring -----------------------------------------------------------------------------------
    async def setup(self) -> None:
        self._generator(self.config.seed, 1)  # a bad `params` fails here, before step 0
        await _warm_pool()

    async def score(self, sample: rk.Sample, completion: str) -> rk.RewardResult:
        answer = extract_answer(completion, self.config.answer_tag)
        if answer is None:
            return rk.RewardResult(0.0, info={"reason": f"no <{self.config.answer_tag}> block"})
        if len(answer) > self.config.max_answer_chars:
            return rk.RewardResult(0.0, info={"reason": "answer too long", "answer_chars": len(answer)})
        info: dict[str, Any] = {"parsed_answer": answer}
        if self.config.scoring == "strict" and self.task in EXACT:
            correct = sample.answer is not None and normalize(answer) == normalize(str(sample.answer))
            return rk.RewardResult(float(correct), info={**info, "match": "exact"})
        entry = {"question": sample.info.get("question", ""), "answer": sample.answer, **_metadata(sample)}
        params = json.dumps(self.config.params, sort_keys=True)
        try:
            raw, raised = await _pool().run(
                task_score, self.task, params, answer, entry, timeout=self.config.timeout
            )
        except TimeoutError:
            return rk.RewardResult(0.0, info={**info, "reason": "the task's scorer timed out"})
        except WorkerCrashed as error:
            return rk.RewardResult.failure(f"scoring worker died: {error}")
        if raised:
            info["scorer_error"] = raised
        if self.config.scoring == "reasoning_gym":
            return rk.RewardResult(min(1.0, max(0.0, raw)), info=info)
        return rk.RewardResult(float(raw >= FULL_MARKS), components={"task_score": raw}, info=info)


def _metadata(sample: rk.Sample) -> dict[str, Any]:
    return {"metadata": dict(sample.info.get("metadata") or {})}


@functools.lru_cache(maxsize=16)
def _system_prompt(name: str | None) -> str | None:
    if name is None:
        return None
    from reasoning_gym.utils import SYSTEM_PROMPTS

    return str(SYSTEM_PROMPTS.get(name, name))


_pool_instance: ProcessPool | None = None
_pool_lock = threading.Lock()
_warm = threading.Event()


def _pool() -> ProcessPool:
    """One pool per process for every task's scorer; each worker imports reasoning_gym once."""
    global _pool_instance
    with _pool_lock:
        if _pool_instance is None:
            _pool_instance = ProcessPool(workers=min(2, os.cpu_count() or 1), initializer=warm_up)
        return _pool_instance


async def _warm_pool() -> None:
    if not _warm.is_set():
        await _pool().run(warm_up, timeout=WARM_UP_TIMEOUT)
        _warm.set()


def _task_class(task: str) -> type[ReasoningGymEnv]:
    doc = f"reasoning-gym's {task} task (procedural, seeded)"
    if task in GAMEABLE:
        doc = f"[gameable: {GAMEABLE[task]}] " + doc
    elif task in NO_REFERENCE:
        doc = f"[no gold answer: {NO_REFERENCE[task]}] " + doc
    qualname = "Task_" + task
    return type(
        qualname,
        (ReasoningGymEnv,),
        {
            "name": PREFIX + task,
            "task": task,
            "__doc__": doc,
            "__module__": __name__,
            "__qualname__": qualname,
        },
    )


# Module attributes, so that each class pickles by reference (Ray workers, process pools).
TASK_CLASSES: dict[str, type[ReasoningGymEnv]] = {}
for _task in TASKS:
    TASK_CLASSES[_task] = globals()["Task_" + _task] = _task_class(_task)
