"""Train on a rewardkit episode environment with TRL's GRPOTrainer (`environment_factory=`).

TRL drives tool-using episodes itself: it exposes an environment object's public methods as tools, calls
`reset(**row)` before each rollout and runs the model's tool calls against that object. So:

    env = rewardkit.load_environment("math.python")
    trainer = GRPOTrainer(
        model, args=GRPOConfig(...), train_dataset=to_hf_dataset(env),
        environment_factory=trl_environment_factory(env), reward_funcs=[trl_episode_reward(env)],
    )

Each tool of the environment becomes a method with the tool's signature and docstring (TRL builds the schema
from them); `reset` starts a rewardkit episode from the row's serialized Sample; the reward function scores
the whole conversation TRL recorded (assistant turns and tool results) with the environment's
`score_trajectory`, then closes the episode. TRL runs tools only: environments whose `step` answers with
feedback or game states need rewardkit's own trainer.
"""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Callable, Sequence
from typing import Any

from rewardkit.episodes.contract import EpisodeEnvironment
from rewardkit.episodes.session import resolve_tools
from rewardkit.episodes.tools import Tool, ToolCallError
from rewardkit.loading import load_environment
from rewardkit.outcome import normalize
from rewardkit.runtime import host_loop
from rewardkit.types import Message, RewardResult, Sample, Trajectory

logger = logging.getLogger(__name__)
SAMPLE_COLUMN = "rewardkit_sample"


def trl_environment_factory(env: EpisodeEnvironment | str, **config: Any) -> Callable[[], Any]:
    """A TRL `environment_factory`: each call returns a fresh object whose methods are the env's tools."""
    environment = load_environment(env, **config) if isinstance(env, str) else env
    if not isinstance(environment, EpisodeEnvironment):
        raise TypeError(f"{environment.name} is single-turn: use trl_reward_func with TRL's reward_funcs")
    probe = next(iter(environment.dataset(environment.metadata().splits[0])))
    tools = resolve_tools(environment, probe)
    host_loop().run(environment.setup())
    members: dict[str, Any] = {name.replace(".", "_"): _tool_method(tool) for name, tool in tools.items()}
    members.update(reset=_reset, _env=environment, _tools=tools, __init__=_init)
    return type(f"{environment.name.replace('.', '_')}_trl", (), members)


def _init(self: Any) -> None:
    self.sample = None  # the episode's Sample, set by reset
    self.state = None
    self.open = False


def _reset(self: Any, **row: Any) -> None:
    """Start a rewardkit episode for the dataset row (closing the previous one if TRL never scored it)."""
    _close(self)
    serialized = row.get(SAMPLE_COLUMN)
    if serialized is None:
        raise KeyError(f"the dataset row has no {SAMPLE_COLUMN!r} column: build it with to_hf_dataset(env)")
    self.sample = Sample.from_dict(json.loads(serialized))
    self.state = host_loop().run(self._env.start(self.sample), timeout=self._env.step_timeout)
    self.open = True


def _close(self: Any) -> None:
    if getattr(self, "open", False):
        self.open = False
        try:
            host_loop().run(self._env.close(self.state), timeout=self._env.step_timeout)
        except Exception as error:  # a failing close must not break TRL's next rollout
            logger.warning("%s: close failed: %s", self._env.name, error)


def _tool_method(tool: Tool) -> Callable[..., str]:
    def method(self: Any, **arguments: Any) -> str:
        try:
            return host_loop().run(tool.call(arguments, self.state))[: self._env.tool_output_limit]
        except ToolCallError as error:
            return f"error: {error}"

    fields = tool.arguments.model_fields
    method.__name__ = tool.name.replace(".", "_")
    method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if field.is_required() else field.default,
                annotation=field.annotation,
            )
            for name, field in fields.items()
        ]
    )
    method.__annotations__ = {name: field.annotation for name, field in fields.items()} | {"return": str}
    args = "\n".join(f"    {name}: {field.description or name}" for name, field in fields.items())
    method.__doc__ = f"{tool.description or tool.name}\n\nArgs:\n{args}\n" if fields else tool.description
    return method


def trl_episode_reward(env: EpisodeEnvironment | str, **config: Any) -> Callable[..., list[float | None]]:
    """A TRL reward function scoring each rollout's conversation with the environment's outcome."""
    environment = load_environment(env, **config) if isinstance(env, str) else env
    if not isinstance(environment, EpisodeEnvironment):
        raise TypeError(f"{environment.name} is single-turn: use trl_reward_func with TRL's reward_funcs")
    reward_range = environment.metadata().reward_range

    def reward(
        prompts: Sequence[Any], completions: Sequence[Any], environments: Sequence[Any] = (), **columns: Any
    ) -> list[float | None]:
        scores: list[float | None] = []
        for index, completion in enumerate(completions):
            instance = environments[index] if index < len(environments) else None
            sample = instance.sample if instance is not None and instance.sample is not None else None
            if sample is None:
                sample = Sample.from_dict(json.loads(columns[SAMPLE_COLUMN][index]))
            trajectory = Trajectory(_messages(completion))
            try:
                raw = host_loop().run(environment.score_trajectory(sample, trajectory))
                result = normalize(raw, environment.name, reward_range)
            except Exception as error:  # reported and scored None: TRL leaves such a rollout out
                message = f"scoring raised {type(error).__name__}: {error}"
                result = RewardResult.failure(message, kind="exception")
            finally:
                if instance is not None:
                    _close(instance)
            if result.error:
                logger.warning("rewardkit %s: %s", environment.name, result.error)
            scores.append(result.score)
        return scores

    reward.__name__ = environment.name.replace(".", "_")
    return reward


def _messages(completion: Any) -> list[Message]:
    if isinstance(completion, str):
        return [{"role": "assistant", "content": completion}]
    out: list[Message] = []
    for message in completion:
        content = message.get("content")
        if isinstance(content, list):  # multimodal blocks: keep the text
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        text = content if isinstance(content, str) else str(content or "")
        out.append(typing.cast(Message, {**message, "content": text}))
    return out
