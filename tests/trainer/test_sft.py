"""The SFT stage: assistant-only tokens exactly as the GRPO trainer prompts and samples, rows from files and
from an environment's reference completions, held-out accuracy with an early stop, and resume."""

from __future__ import annotations

import json

import pytest
from rk_trainer_toys import toy_host

from rewardkit.errors import ConfigError
from rewardkit.trainer.checkpoint import find_checkpoint, load_state
from rewardkit.trainer.episodes.render import TurnRenderer
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.sft import parse_sft_config, train_sft
from rewardkit.trainer.sft.data import hold_out, read_rows, tokenize
from rewardkit.types import assistant, system, user

pytestmark = pytest.mark.usefixtures("tiny_dir")


@pytest.fixture
def tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


def _trained_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t, keep in zip(example.input_ids, example.trained, strict=True) if keep])


def test_only_the_replies_are_trained_and_the_prompt_is_what_grpo_sends(tokenizer):
    stops = stop_token_ids(tokenizer)
    messages = [
        system("Be brief."),
        user("What is 2 + 3?"),
        assistant("<think>2 + 3 = 5</think><answer>5</answer>"),
        user("And 4 + 4?"),
        assistant("<answer>8</answer>"),
        user("a trailing question is context for nothing"),
    ]
    (example,) = tokenize(messages, TurnRenderer(tokenizer), stops, max_length=512)
    assert (
        _trained_text(tokenizer, example)
        == "<think>2 + 3 = 5</think><answer>5</answer><|im_end|><answer>8</answer><|im_end|>"
    )
    # The context of the first reply is token for token the prompt the GRPO trainer generates from.
    prompt = tokenizer.apply_chat_template(
        [dict(m) for m in messages[:2]], add_generation_prompt=True, tokenize=True, return_dict=False
    )
    assert example.input_ids[: len(prompt)] == list(prompt)
    assert not any(example.trained[: len(prompt)])
    # ...and the reply's tokens are the ones the model samples after it, ending with the stop token.
    reply = tokenizer("<think>2 + 3 = 5</think><answer>5</answer>", add_special_tokens=False)["input_ids"]
    assert example.input_ids[len(prompt) : len(prompt) + len(reply) + 1] == [*reply, tokenizer.eos_token_id]
    assert tokenizer.decode(example.input_ids) == tokenizer.apply_chat_template(
        [dict(m) for m in messages[:5]], tokenize=False
    )


def test_a_template_that_rewrites_earlier_turns_gives_one_example_per_turn(tokenizer):
    # Like Qwen3's: an earlier reply's think block is dropped once a later turn exists.
    template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        "{% if m['role'] == 'assistant' and not loop.last %}{{ m['content'].split('</think>')[-1] }}"
        "{% else %}{{ m['content'] }}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    renderer = TurnRenderer(tokenizer, chat_template=template)
    messages = [user("1?"), assistant("<think>a</think>1"), user("2?"), assistant("<think>b</think>2")]
    first, second = tokenize(messages, renderer, stop_token_ids(tokenizer), max_length=512)
    assert _trained_text(tokenizer, first) == "<think>a</think>1<|im_end|>"
    assert _trained_text(tokenizer, second) == "<think>b</think>2<|im_end|>"
    assert "<think>a" not in tokenizer.decode(second.input_ids)  # rendered as the model sees turn 2


def test_rows_from_files_and_their_errors(tmp_path):
    rows = tmp_path / "rows.jsonl"
    lines = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"prompt": "2+2?", "completion": "4"},  # TRL's prompt-completion form
    ]
    rows.write_text("".join(json.dumps(line) + "\n" for line in lines))
    config = parse_sft_config({"model": {"path": "m"}, "data": {"path": str(rows)}})
    read, scorer = read_rows(config.data)
    assert scorer is None
    assert [r.messages[-1]["content"] for r in read] == ["hello", "4"]

    rows.write_text(json.dumps({"text": "no messages"}) + "\n")
    with pytest.raises(ConfigError, match=r"row 0 has no 'messages' column .*data.messages=COLUMN"):
        read_rows(config.data)
    with pytest.raises(ConfigError, match=r"eval_rows: 5 held-out rows leave none"):
        hold_out(read, 5, seed=0)
    with pytest.raises(ConfigError, match=r"data: .*exactly one of `path`"):
        parse_sft_config({"model": {"path": "m"}, "data": {"path": "x.jsonl", "environment": {"name": "e"}}})
    with pytest.raises(ConfigError, match=r"eval needs held-out rows: set data\.eval_rows"):
        parse_sft_config({"model": {"path": "m"}, "data": {"path": "x.jsonl"}, "eval": {"every": 5}})


def _config(run_dir, **changes):
    config = {
        "output_dir": str(run_dir),
        "threads": 1,
        "model": {"path": "tiny://qwen2?hidden=64&layers=2"},
        "data": {"environment": {"name": "toy.say"}, "eval_rows": 16},
        "batch_size": 16,
        "max_length": 64,
        "optim": {"lr": 3e-3, "max_steps": 120},
        "eval": {"every": 10, "rollouts": 2, "max_new_tokens": 12, "temperature": 0, "stop_at": 0.5},
        "logging": {"progress": False, "tensorboard": False, "samples_every": 10},
        "checkpoint": {"every": 20, "keep_last": 1},
    }
    return {**config, **changes}


def test_sft_from_reference_completions_learns_and_stops_early(tmp_path, capsys):
    run = tmp_path / "sft"
    result = train_sft(_config(run), host=toy_host())
    assert "samples at step 10" in capsys.readouterr().err  # the held-out replies, printed
    evals = [h for h in result.history if "eval/loss" in h]
    assert evals[-1]["eval/accuracy"] >= 0.5  # the held-out replies are exactly right
    assert result.step < 120 and result.step % 10 == 0  # stopped at the evaluation that reached stop_at
    assert evals[-1]["eval/loss"] < evals[0]["eval/loss"] / 3
    final = find_checkpoint(run)
    assert final.name == f"checkpoint-{result.step}"
    assert load_state(final)["stopped"] is True
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == list(range(1, result.step + 1))
    # A finished stage resumed does no more steps.
    again = train_sft(_config(run), host=toy_host(), resume=run)
    assert again.step == result.step and again.history == []
