"""The transformers rollout loop: the sampling convention, stops, greedy parity with `generate`."""

import pytest
import torch

from rewardkit.trainer.generation.base import SamplingSpec
from rewardkit.trainer.generation.hf import TransformersBackend, left_pad
from rewardkit.trainer.generation.sampling import sample, sampling_logprobs
from rewardkit.trainer.generation.stops import stop_token_ids
from rewardkit.trainer.rollout import build_batch


def test_top_k_and_top_p_restrict_the_draw_and_report_the_truncated_distribution():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log().repeat(4_000, 1)
    generator = torch.Generator().manual_seed(1)
    for spec, kept in ((SamplingSpec(1, top_k=2), 0.8), (SamplingSpec(1, top_p=0.6), 0.8)):
        tokens, logp = sample(logits, spec, generator)
        assert set(tokens.tolist()) == {0, 1}
        # The log-prob of the distribution drawn from: renormalised over the kept mass.
        assert torch.allclose(logp, (probs[0, tokens] / kept).log())
        frequency = (tokens == 0).double().mean()
        assert abs(frequency - 0.5 / kept) < 0.03


def test_temperature_scales_the_sampled_distribution():
    logits = torch.tensor([[2.0, 0.0]]).repeat(20_000, 1)
    tokens, logp = sample(logits, SamplingSpec(1, temperature=2.0), torch.Generator().manual_seed(2))
    expected = torch.softmax(logits[0] / 2.0, -1)
    assert abs((tokens == 0).double().mean() - expected[0]) < 0.01
    assert torch.allclose(logp[tokens == 0], expected[0].log().expand((tokens == 0).sum()))


def test_stop_set_is_tokenizer_eos_generation_config_eos_and_a_special_pad():
    class Tokenizer:
        eos_token_id = 2
        pad_token_id = 0
        all_special_ids = (0, 1, 2)

    class GenerationConfig:
        eos_token_id = (2, 7, 9)  # e.g. Llama-3-Instruct: <|end_of_text|>, <|eom_id|>, <|eot_id|>

    assert stop_token_ids(Tokenizer(), GenerationConfig(), extra=[11]) == [0, 2, 7, 9, 11]
    Tokenizer.all_special_ids = (1, 2)  # padding with an ordinary word must not end completions
    assert stop_token_ids(Tokenizer(), None) == [2]


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_dir), AutoTokenizer.from_pretrained(tiny_dir)


def _stops(model, tokenizer):
    return tuple(stop_token_ids(tokenizer, model.generation_config))


@pytest.mark.parametrize("share_prefix", [False, True])
def test_greedy_decode_equals_transformers_generate(model_and_tokenizer, share_prefix):
    model, tokenizer = model_and_tokenizer
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi", "Seven")]
    assert_greedy_matches_generate(model, tokenizer, prompts, share_prefix, _stops(model, tokenizer))


def test_rows_that_stop_early_leave_the_batch_and_the_others_decode_on_unchanged(model_and_tokenizer):
    """Stop tokens taken from the unstopped greedy decodes, so rows end at different steps and the batch
    shrinks (more than an eighth of it at a time and one row at a time) while the others keep decoding."""
    model, tokenizer = model_and_tokenizer
    texts = ("What is 1 + 2?", "Hi", "Seven", "Tell me", "A", "B c", "Write", "Count to ten")
    prompts = [tokenizer(t)["input_ids"] for t in texts]
    free = TransformersBackend(model, tokenizer).generate(prompts, 1, SamplingSpec(16, greedy=True), seed=0)
    stops = {row[step] for row, step in zip(free.token_ids, (2, 5, 9), strict=False)}
    ours = assert_greedy_matches_generate(model, tokenizer, prompts, True, tuple(stops))
    lengths = {len(row) for row in ours.token_ids}
    assert len(lengths) > 2 and min(lengths) < 16  # rows really ended at different steps


def assert_greedy_matches_generate(model, tokenizer, prompts, share_prefix, stops):
    backend = TransformersBackend(model, tokenizer, share_prefix=share_prefix)
    ours = backend.generate(prompts, 2, SamplingSpec(16, greedy=True, stop_token_ids=stops), seed=0)
    ids, mask = left_pad([p for p in prompts for _ in range(2)], tokenizer.pad_token_id)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=False,
            max_new_tokens=16,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=list(stops),
            return_dict_in_generate=True,
            output_logits=True,
        )
    reference = out.sequences[:, ids.shape[1] :]
    logprobs = torch.stack(out.logits, 1).log_softmax(-1).gather(-1, reference[..., None]).squeeze(-1)
    for row, (mine, theirs) in enumerate(zip(ours.token_ids, reference.tolist(), strict=True)):
        assert mine == theirs[: len(mine)] and all(t == tokenizer.pad_token_id for t in theirs[len(mine) :])
        assert ours.truncated[row] == (len(mine) == 16 and mine[-1] not in stops)
        # Log-probs too: a wrong position or mask shifts them even where the argmax survives.
        assert torch.allclose(torch.tensor(ours.logprobs[row]), logprobs[row, : len(mine)], atol=1e-5)
    return ours


def test_sampled_logprobs_follow_the_convention_with_top_k_and_top_p(model_and_tokenizer):
    """Reported log-probs equal the truncated distribution recomputed from a full forward of the tokens."""
    model, tokenizer = model_and_tokenizer
    backend = TransformersBackend(model, tokenizer)
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi")]
    spec = SamplingSpec(12, temperature=0.7, top_p=0.8, top_k=5, stop_token_ids=_stops(model, tokenizer))
    sampled = backend.generate(prompts, 3, spec, seed=4)
    batch = build_batch(prompts, sampled, 3, tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    targets = batch.input_ids[:, batch.prompt_width :]
    recomputed = sampling_logprobs(logits[:, batch.prompt_width - 1 : -1], targets, spec)
    mask = batch.completion_mask
    assert torch.allclose(recomputed[mask], batch.sampling_logp[mask], atol=1e-4)
    untruncated = torch.log_softmax(logits[:, batch.prompt_width - 1 : -1].float() / 0.7, -1)
    untruncated = untruncated.gather(-1, targets[..., None]).squeeze(-1)
    assert (batch.sampling_logp[mask] > untruncated[mask] + 1e-3).any()  # the truncation shows


def test_sampling_is_reproducible_per_seed(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    backend = TransformersBackend(model, tokenizer)
    prompts = [tokenizer("What is 1 + 2?")["input_ids"]]
    spec = SamplingSpec(16, temperature=1.0)
    first, again = (backend.generate(prompts, 4, spec, seed=7) for _ in range(2))
    other = backend.generate(prompts, 4, spec, seed=8)
    assert first.token_ids == again.token_ids and first.logprobs == again.logprobs
    assert other.token_ids != first.token_ids


def test_stop_strings_end_a_completion_at_the_token_that_completes_them(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    backend = TransformersBackend(model, tokenizer)
    prompts = [tokenizer(t)["input_ids"] for t in ("What is 1 + 2?", "Hi")]
    # One row alone: its draws do not depend on when other rows stop (finished rows leave the batch).
    free = backend.generate(prompts[:1], 1, SamplingSpec(24), seed=3).token_ids[0]
    text = tokenizer.decode(free, skip_special_tokens=True)
    stop = text[len(text) // 2 : len(text) // 2 + 2]  # two characters the row produces mid-way
    assert stop.strip()
    alone = backend.generate(prompts[:1], 1, SamplingSpec(24, stop_strings=(stop,)), seed=3)
    head = tokenizer.decode(alone.token_ids[0], skip_special_tokens=True)
    assert stop in head and stop not in tokenizer.decode(alone.token_ids[0][:-1], skip_special_tokens=True)
    assert not alone.truncated[0] and alone.token_ids[0] == free[: len(alone.token_ids[0])]
    cut = backend.generate(prompts, 4, SamplingSpec(24, stop_strings=(stop,)), seed=3)
    for tokens, truncated in zip(cut.token_ids, cut.truncated, strict=True):
        if stop in tokenizer.decode(tokens, skip_special_tokens=True):
            assert not truncated and stop not in tokenizer.decode(tokens[:-1], skip_special_tokens=True)
        else:
            assert truncated and len(tokens) == 24  # no stop tokens in this spec: the rest ran to the limit
    assert 0 < sum(cut.truncated) < len(cut.truncated)  # some rows stopped, others decoded on
