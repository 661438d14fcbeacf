"""Base models and chat templates, model options and length checks: what happens before step 1."""

import json
import logging
import shutil

import pytest
import torch
from rk_trainer_toys import tiny_config, toy_host
from transformers import Gemma2Config

from rewardkit.errors import ConfigError, RewardkitError
from rewardkit.trainer import train
from rewardkit.trainer.config import parse_config
from rewardkit.trainer.generation.base import Completions
from rewardkit.trainer.loop import GRPOTrainer
from rewardkit.trainer.models import attention_implementation, load_models
from rewardkit.trainer.prompts import PromptEncoder
from rewardkit.trainer.rollout import build_batch, forward_logprobs
from rewardkit.types import system, user

MESSAGES = [system("Be brief."), user("What is 2 + 3?")]


@pytest.fixture
def base_model(tiny_dir, tmp_path):
    """The tiny model as a base model: a tokenizer without a chat template."""
    path = tmp_path / "base"
    shutil.copytree(tiny_dir, path)
    (path / "chat_template.jinja").unlink()
    return path


def _model(path, **options):
    return parse_config(tiny_config("unused", model={"path": str(path), **options})).model


def test_a_tokenizer_without_template_is_a_one_line_error_before_step_1(base_model, tmp_path):
    config = tiny_config(tmp_path / "run", model={"path": str(base_model)})
    with pytest.raises(
        ConfigError, match=r"^model\.path: the tokenizer of .* has no chat template; set"
    ) as error:
        GRPOTrainer(parse_config(config), host=toy_host())
    assert "\n" not in str(error.value)


def test_plain_prompts_train_a_base_model(base_model, tmp_path):
    config = tiny_config(tmp_path / "run", steps=1, model={"path": str(base_model), "prompt_format": "plain"})
    assert train(config, host=toy_host()).step == 1
    models = load_models(_model(base_model), beta=0.0)
    encoder = PromptEncoder(models.tokenizer, _model(base_model, prompt_format="plain"), max_length=512)
    assert encoder.encode(MESSAGES).ids == models.tokenizer("Be brief.\n\nWhat is 2 + 3?")["input_ids"]


def test_chat_template_override_and_its_kwargs(base_model, tmp_path):
    template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% if think %} <think>{% endif %}{% endif %}"
    )
    models = load_models(_model(base_model), beta=0.0)
    tokenizer = models.tokenizer
    plain = PromptEncoder(tokenizer, _model(base_model, chat_template=template), max_length=512)
    thinking = PromptEncoder(
        tokenizer, _model(base_model, chat_template=template, chat_template_kwargs={"think": True}), 512
    )
    rendered = "[system] Be brief.\n[user] What is 2 + 3?\n[assistant]"
    assert tokenizer.decode(plain.encode(MESSAGES).ids) == rendered
    assert tokenizer.decode(thinking.encode(MESSAGES).ids) == rendered + " <think>"
    file = tmp_path / "template.jinja"
    file.write_text(template)
    from_file = PromptEncoder(tokenizer, _model(base_model, chat_template=str(file)), max_length=512)
    assert from_file.encode(MESSAGES).ids == plain.encode(MESSAGES).ids
    with pytest.raises(ConfigError, match=r"model\.chat_template: 'nope\.jinja' is neither"):
        PromptEncoder(tokenizer, _model(base_model, chat_template="nope.jinja"), max_length=512)
    with pytest.raises(ConfigError, match=r"model\.chat_template: rendering a prompt failed"):
        PromptEncoder(
            tokenizer, _model(base_model, chat_template="{{ messages[0]['role'] | nofilter }}"), 512
        )


def test_long_prompts_are_counted_and_reported(tmp_path, caplog):
    long_prompt = {"max_prompt_length": 8, "max_new_tokens": 4}
    config = tiny_config(tmp_path, steps=1, generation=long_prompt)
    with caplog.at_level(logging.WARNING, logger="rewardkit.trainer.loop"):
        result = train(config, host=toy_host())
    assert result.history[0]["prompt/truncated_frac"] == 1.0
    assert "only its last generation.max_prompt_length=8 are used" in caplog.text
    assert "of the completions hit generation.max_new_tokens=4" in caplog.text


def test_lengths_beyond_the_model_or_vllm_are_refused_up_front(tmp_path):
    config = tiny_config(tmp_path, generation={"max_prompt_length": 1000, "max_new_tokens": 64})
    with pytest.raises(ConfigError, match=r"max_new_tokens \(64\) exceed the 1024 positions of"):
        GRPOTrainer(parse_config(config), host=toy_host())
    vllm = {"backend": "vllm", "max_prompt_length": 512, "max_new_tokens": 64, "vllm": {"max_model_len": 512}}
    with pytest.raises(ConfigError, match=r"exceed generation\.vllm\.max_model_len \(512\)"):
        parse_config(tiny_config(tmp_path, generation=vllm))


def test_steps_without_any_reward_stop_the_run(tmp_path, caplog):
    config = tiny_config(
        tmp_path, environments=[{"name": "toy.noreward"}], grpo={"max_steps_without_rewards": 2}
    )
    with caplog.at_level(logging.WARNING), pytest.raises(RewardkitError, match=r"step 2: 2 steps in a row"):
        train(config, host=toy_host())
    assert "step 1: no completion got a reward (toy.noreward)" in caplog.text


def test_gemma2_soft_capped_attention_gets_a_kernel_that_applies_the_cap():
    config = Gemma2Config()
    assert attention_implementation(config, None) == "eager"
    assert attention_implementation(config, "flash_attention_2") == "flash_attention_2"
    with pytest.raises(ConfigError, match=r"model\.attn_implementation: sdpa ignores .* soft-capping"):
        attention_implementation(config, "sdpa")


def test_attn_implementation_is_passed_and_bad_values_name_the_field(tiny_dir):
    eager = load_models(_model(tiny_dir, attn_implementation="eager"), beta=0.0).policy
    assert eager.config._attn_implementation == "eager"
    with pytest.raises(ConfigError, match=r"^model\.attn_implementation: "):
        load_models(_model(tiny_dir, attn_implementation="no_such_kernel"), beta=0.0)


def test_dropout_is_off_unless_asked_for(tiny_dir, tmp_path):
    path = tmp_path / "dropout"
    shutil.copytree(tiny_dir, path)
    settings = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**settings, "attention_dropout": 0.5}))
    prompts, tokens = [[5, 6, 7]], [[20, 21, 22, 23]] * 2
    batch = build_batch(prompts, Completions(tokens, [[0.0] * 4] * 2, [False] * 2), 2, 0)

    def two_passes(model):
        torch.manual_seed(0)
        return [forward_logprobs(model.train(), batch, 1.0)[0] for _ in range(2)]

    first, second = two_passes(load_models(_model(path), beta=0.0).policy)
    assert torch.equal(first, second)  # disable_dropout (default): train-mode log-probs are repeatable
    first, second = two_passes(load_models(_model(path, disable_dropout=False), beta=0.0).policy)
    assert not torch.equal(first, second)
