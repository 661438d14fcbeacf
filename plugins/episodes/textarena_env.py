"""`textarena`: single-player games from TextArena (GuessTheNumber, Mastermind, ...) as episodes.

Each sample is one seeded game. The model's reply is the game action; the game's messages since the last
action are the next user message; the outcome is the game's own reward for the player. TextArena seeds
Python's global `random` on reset, so resets run with the global state saved and restored around them.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import Field

from rewardkit.environment import EnvConfig
from rewardkit.episodes import EpisodeEnvironment, Policy, Step
from rewardkit.errors import ConfigError
from rewardkit.sample_format import SampleFormat
from rewardkit.types import Message, RewardResult, Sample, Trajectory, user

_random_lock = threading.Lock()


class TextArenaConfig(EnvConfig):
    game: str = Field("GuessTheNumber-v0", description="a single-player TextArena game id")
    size: int = Field(1000, ge=1, description="games (seeds) in the train split")
    test_size: int = Field(100, ge=1, description="games in the test split")
    seed: int = 0
    max_turns: int = Field(20, ge=1, description="actions per game (the game may end sooner)")


class TextArena(EpisodeEnvironment):
    """Single-player TextArena games; the reward is the game's own outcome for the player."""

    name = "textarena"
    version = "1"
    Config = TextArenaConfig
    splits = ("train", "test")
    reward_range = (-1.0, 1.0)
    sample_format = SampleFormat(required={"info.seed": "the game's seed (the dataset sets it)"})
    config: TextArenaConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.max_turns = self.config.max_turns  # type: ignore[misc]  # per instance, from the config
        self._make_game(0)  # an unknown game id or a multi-player game fails here, with the config's path

    def _make_game(self, seed: int) -> Any:
        try:
            import textarena as ta
        except ImportError:
            raise ConfigError(f"{self.name}: needs TextArena: pip install 'rewardkit[games]'") from None

        game_id = self.config.game
        try:
            game = ta.make(f"{game_id}-raw" if not game_id.endswith("-raw") else game_id)
        except (ValueError, KeyError) as error:
            raise ConfigError(f"{self.name}.config.game: {error}") from None
        with _seeded(seed):
            try:
                game.reset(num_players=1, seed=seed)
            except Exception as error:
                message = f"{self.name}.config.game: {game_id} cannot be played alone ({error})"
                raise ConfigError(message) from None
        return game

    def dataset(self, split: str) -> Iterator[Sample]:
        count = self.config.test_size if split == "test" else self.config.size
        for index in range(count):
            seed = _seed_of(self.config.seed, split, index)
            game = self._make_game(seed)
            yield Sample(f"{split}-{index}", [user(_observation(game))], info={"seed": seed})

    async def start(self, sample: Sample) -> Any:
        game = self._make_game(int(sample.info["seed"]))
        _observation(game)  # the prompt: already in the sample
        return game

    async def step(self, state: Any, reply: Message, tool_results: list[Message]) -> Step:
        with _seeded(None):
            done, _ = state.step(reply["content"])
        if done:
            rewards, game_info = state.close()
            reward = float((rewards or {}).get(0, 0.0))
            reason = str((game_info or {}).get(0, {}).get("reason", ""))
            return Step(done=True, info={"game_reward": reward, "reason": reason})
        return Step([user(_observation(state) or "Continue.")])

    async def score_trajectory(self, sample: Sample, trajectory: Trajectory) -> RewardResult:
        reward = trajectory.info.get("game_reward")
        if reward is None:  # the game did not finish (turn limit, truncation): no win
            return RewardResult(0.0, components={"finished": 0.0})
        return RewardResult(
            float(reward), components={"finished": 1.0}, info={"reason": trajectory.info.get("reason", "")}
        )

    def reference_policy(self, sample: Sample) -> Policy | None:
        if not self.config.game.startswith("GuessTheNumber"):
            return None
        return _bisect


def _bisect(messages: list[Message], tools: list[dict[str, Any]]) -> str:
    """GuessTheNumber's optimal player: halve the interval the hints leave."""
    text = "\n".join(m["content"] for m in messages if m["role"] == "user")
    low, high = (int(x) for x in re.findall(r"between (\d+) and (\d+)", text)[0])
    guesses = [
        int(g)
        for g in re.findall(
            r"\[(\d+)\]", " ".join(m["content"] for m in messages if m["role"] == "assistant")
        )
    ]
    hints = re.findall(r"target number is (higher|lower)", text)
    for guess, hint in zip(guesses, hints, strict=False):
        low, high = (guess + 1, high) if hint == "higher" else (low, guess - 1)
    return f"[{(low + high) // 2}]"


def _observation(game: Any) -> str:
    _, observation = game.get_observation()
    if isinstance(observation, str):
        return observation.strip()
    # Raw observations are (from_id, text, kind) since the last call; the player's own action is echoed back.
    texts = (str(part[1]).strip() for part in observation if str(part[2].name) != "PLAYER_ACTION")
    return "\n".join(text for text in texts if text)


def _seed_of(base: int, split: str, index: int) -> int:
    return random.Random(f"textarena/{base}/{split}/{index}").randrange(2**31)


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Run game code that may reseed Python's global `random` without disturbing anyone else's draws."""
    with _random_lock:
        saved = random.getstate()
        try:
            yield
        finally:
            random.setstate(saved)
