"""Episode samples as a RolloutBatch, and the credit each sample gets from its episode's rewards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch

from rewardkit.episodes import EpisodeResult
from rewardkit.trainer.advantages import Scale, group_advantages
from rewardkit.trainer.episodes.driver import Segment
from rewardkit.trainer.rollout import RolloutBatch

Credit = Literal["outcome", "turn"]


def build_episode_batch(segments: Sequence[Segment], pad_id: int) -> RolloutBatch:
    """Prompts left-padded, completions right-padded; `completion_mask` is the loss mask (0 on environment
    tokens and padding), the attention mask covers every real token."""
    p_width = max(len(s.prompt_ids) for s in segments)
    c_width = max(1, *(len(s.completion_ids) for s in segments))
    count = len(segments)
    ids = torch.full((count, p_width + c_width), pad_id, dtype=torch.long)
    attention = torch.zeros((count, p_width + c_width), dtype=torch.long)
    loss_mask = torch.zeros((count, c_width), dtype=torch.bool)
    sampling = torch.zeros((count, c_width), dtype=torch.float32)
    for row, segment in enumerate(segments):
        prompt, completion = segment.prompt_ids, segment.completion_ids
        if len(segment.mask) != len(completion) or len(segment.logprobs) != len(completion):
            raise AssertionError(f"sample {row}: mask, log-probs and ids differ in length")
        ids[row, p_width - len(prompt) : p_width] = torch.tensor(prompt, dtype=torch.long)
        ids[row, p_width : p_width + len(completion)] = torch.tensor(completion, dtype=torch.long)
        attention[row, p_width - len(prompt) : p_width + len(completion)] = 1
        loss_mask[row, : len(completion)] = torch.tensor(segment.mask, dtype=torch.bool)
        sampling[row, : len(completion)] = torch.tensor(segment.logprobs, dtype=torch.float32)
    return RolloutBatch(
        input_ids=ids,
        attention_mask=attention,
        completion_mask=loss_mask,
        sampling_logp=sampling,
        truncated=torch.tensor([s.truncated for s in segments], dtype=torch.bool),
        prompt_width=p_width,
        group=_prompt_groups(segments),
    )


def _prompt_groups(segments: Sequence[Segment]) -> torch.Tensor:
    """Adjacent samples with the same prompt share a group (their prompt runs once with a shared prefix)."""
    groups, current = [], -1
    for index, segment in enumerate(segments):
        if index == 0 or segment.prompt_ids != segments[index - 1].prompt_ids:
            current += 1
        groups.append(current)
    return torch.tensor(groups, dtype=torch.long)


def sample_advantages(
    outcomes: Sequence[EpisodeResult],
    segments: Sequence[Segment],
    group_size: int,
    scale: Scale,
    drop_zero_variance: bool,
    credit: Credit = "outcome",
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
    offset: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(advantage, trainable, zero_variance) per sample.

    outcome: each episode's group-relative outcome advantage, broadcast to all its samples (every turn).
    turn: the return-to-go of the sample's first turn (outcome + that turn's and later per-turn rewards),
    centred and scaled by the group's full-episode returns (see docs/episodes.md for its bias).

    In a multi-process run, `gather` collects every process's episode scores in rank order (statistics
    over the whole step, as for single-turn rollouts) and `offset` is this process's first episode there.
    """
    outcome = torch.tensor(
        [float("nan") if o.result.score is None else o.result.score for o in outcomes], dtype=torch.float64
    )
    collect = gather or (lambda local: local)
    if credit == "outcome":
        adv = group_advantages(collect(outcome.float()), group_size, scale, drop_zero_variance)
        index = torch.tensor([offset + s.episode for s in segments], dtype=torch.long)
        return adv.values[index], adv.trainable[index], adv.zero_variance[index]
    returns = [_returns_to_go(o) for o in outcomes]
    total = torch.tensor([r[0] for r in returns], dtype=torch.float64)
    base = group_advantages(collect(total.float()), group_size, scale, drop_zero_variance)
    values, trainable, zero = [], [], []
    grouped = total.view(-1, group_size)
    for segment in segments:
        episode = segment.episode
        peers = grouped[episode // group_size]
        peers = peers[~torch.isnan(peers)]
        mean = peers.mean() if peers.numel() else torch.tensor(0.0, dtype=torch.float64)
        std = peers.std() if peers.numel() > 1 else torch.tensor(0.0, dtype=torch.float64)
        turn = min(segment.turn, len(returns[episode]) - 1)
        centred = returns[episode][turn] - float(mean)
        value = centred / (float(std) + 1e-4) if scale == "group" else centred
        ok = bool(base.trainable[offset + episode])
        values.append(value if ok else 0.0)
        trainable.append(ok)
        zero.append(bool(base.zero_variance[offset + episode]))
    return torch.tensor(values).float(), torch.tensor(trainable), torch.tensor(zero)


def _returns_to_go(outcome: EpisodeResult) -> list[float]:
    if outcome.result.score is None:
        return [float("nan")]
    turns = list(outcome.trajectory.turn_rewards) or [None] * max(1, outcome.trajectory.turns)
    later, out = 0.0, []
    for reward in reversed(turns):
        later += reward or 0.0
        out.append(outcome.result.score + later)
    return list(reversed(out))
