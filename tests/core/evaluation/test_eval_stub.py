"""`rewardkit eval` against a loopback endpoint that answers from a script: every metric is known exactly."""

from __future__ import annotations

import json

import pytest
from eval_helpers import scripted

from rewardkit.cli.main import main
from rewardkit.evaluation import parse_eval_config
from rewardkit.evaluation.run import evaluate
from rewardkit.evaluation.rundir import latest_records, read_metadata

REPLIES = {
    # question 0 (answer "0"): 3 of 4 pass, the majority "0" passes
    ("toy.answer", "test-0", 0): "0",
    ("toy.answer", "test-0", 1): "0",
    ("toy.answer", "test-0", 2): "1",
    ("toy.answer", "test-0", 3): "0",
    # question 1 (answer "1"): 2 of 4 pass, and "2" vs "1" is a 2-2 tie: no majority
    ("toy.answer", "test-1", 0): "2",
    ("toy.answer", "test-1", 1): "2",
    ("toy.answer", "test-1", 2): "1",
    ("toy.answer", "test-1", 3): "1",
    # question 2 (answer "2"): none passes; three give no answer, one is cut at max_tokens
    ("toy.answer", "test-2", 0): "",
    ("toy.answer", "test-2", 1): " ",
    ("toy.answer", "test-2", 2): "",
    ("toy.answer", "test-2", 3): ("x", "length"),
}


def _config(base_url: str, **extra):
    return parse_eval_config(
        {
            "model": "stub-model",
            "environments": [{"name": "toy.answer"}],
            "rollouts": 4,
            "endpoint": {"base_url": base_url, "max_concurrency": 4},
            **extra,
        }
    )


def test_metrics_of_scripted_replies_are_exact(toys, stub_factory, tmp_path):
    stub = stub_factory(scripted(REPLIES))
    metadata = evaluate(_config(stub.base_url), tmp_path / "run")

    m = metadata["metrics"]["environments"]["toy.answer"]
    assert m["prompts"] == 3
    assert m["rollouts"] == 12
    assert m["pass_threshold"] == 1.0
    assert m["pass_at_k"] == pytest.approx({"1": (0.75 + 0.5 + 0) / 3, "2": (1 + 5 / 6 + 0) / 3, "4": 2 / 3})
    assert m["pass@1"] == pytest.approx(1.25 / 3)
    assert m["pass_hat_k"] == pytest.approx({"1": 1.25 / 3, "2": (3 / 6 + 1 / 6) / 3, "4": 0.0})
    # maj@2 blocks: q0 [0,0]->0 passes, [1,0] tie; q1 [2,2]->2 fails, [1,1]->1 passes;
    # q2 [-,-] no vote, [-,x] x fails.
    assert m["maj_at_k"] == pytest.approx({"1": 1.25 / 3, "2": (0.5 + 0.5 + 0) / 3, "4": 1 / 3})
    assert m["mean"] == pytest.approx(1.25 / 3)
    per_prompt = [0.75, 0.5, 0.0]
    mean = sum(per_prompt) / 3
    se = (sum((p - mean) ** 2 for p in per_prompt) / 2 / 3) ** 0.5
    assert m["stderr"] == pytest.approx(se)
    assert m["no_answer_rate"] == pytest.approx(3 / 12)
    assert m["truncation_rate"] == pytest.approx(1 / 12)
    assert m["error_rate"] == 0.0
    assert m["stop_reasons"] == {"done": 11, "length": 1}
    assert (
        m["tokens"]["completion"] == 9
    )  # the stub counts reply words: 3+2+... ("0" x3, "1", "2" x2, "1" x2, "x")

    overall = metadata["metrics"]["overall"]
    assert overall["pass_at_k"] == pytest.approx(m["pass_at_k"])
    assert metadata["status"] == "complete"

    on_disk = read_metadata(tmp_path / "run")
    assert on_disk["metrics"] == json.loads(json.dumps(metadata["metrics"]))
    assert on_disk["config"]["model"] == "stub-model"
    assert on_disk["environments"]["toy.answer"]["split"] == "test"  # declared, so chosen by default
    records = latest_records(tmp_path / "run")
    assert len(records) == 12 and len(stub.requests) == 12
    record = records[("toy.answer", "test-1", 0)]
    assert record.completion == "2"
    assert record.result.info["parsed_answer"] == "2"
    assert record.result.components == {"chars": 1.0}
    assert record.tokens == {"prompt": 2, "completion": 1}
    assert set(record.timing) == {"generate", "score"}
    assert record.sample.prompt == [{"role": "user", "content": "question 1"}]


def test_requests_carry_the_sampling_options(toys, stub_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("STUB_KEY", "secret-key")
    stub = stub_factory(lambda body: "0")
    config = _config(
        stub.base_url,
        system_prompt="Answer with a digit.",
        chat_template_kwargs={"enable_thinking": False},
        sampling={"temperature": 0.6, "top_p": 0.9, "top_k": 20, "max_tokens": 7, "extra": {"min_p": 0.1}},
    )
    config = config.model_copy(
        update={"endpoint": config.endpoint.model_copy(update={"api_key_env": "STUB_KEY"})}
    )
    evaluate(config, tmp_path / "run")
    body = stub.requests[0]
    assert body["path"] == "/v1/chat/completions"
    assert body["auth"] == "Bearer secret-key"
    assert body["messages"][0] == {"role": "system", "content": "Answer with a digit."}
    assert (body["temperature"], body["top_p"], body["top_k"], body["max_tokens"]) == (0.6, 0.9, 20, 7)
    assert body["min_p"] == 0.1
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "secret-key" not in (tmp_path / "run" / "metadata.json").read_text()


def test_retries_with_backoff_then_succeeds(toys, stub_factory, tmp_path):
    stub = stub_factory(lambda body: "0", fail_first=2)
    config = _config(stub.base_url, num_prompts=1, rollouts=1)
    config = config.model_copy(
        update={"endpoint": config.endpoint.model_copy(update={"backoff": 0.01, "max_concurrency": 1})}
    )
    metadata = evaluate(config, tmp_path / "run")
    assert len(stub.requests) == 3
    assert metadata["metrics"]["overall"]["error_rate"] == 0.0


def test_continuous_rewards_get_max_at_k_and_no_pass_label(toys, stub_factory, tmp_path):
    replies = {
        ("toy.graded", "g-0", 0): "ab",
        ("toy.graded", "g-0", 1): "abcd",
        ("toy.graded", "g-1", 0): "",
        ("toy.graded", "g-1", 1): "a",
    }
    stub = stub_factory(scripted(replies))
    config = parse_eval_config(
        {
            "model": "m",
            "environments": [{"name": "toy.graded"}],
            "rollouts": 2,
            "endpoint": {"base_url": stub.base_url},
        }
    )
    m = evaluate(config, tmp_path / "run")["metrics"]["environments"]["toy.graded"]
    assert "pass_at_k" not in m and "pass@1" not in m and "maj_at_k" not in m
    assert m["max_at_k"] == pytest.approx({"1": (0.75 + 0.125) / 2, "2": (1.0 + 0.25) / 2})
    assert m["mean"] == pytest.approx((0.75 + 0.125) / 2)


def test_cli_end_to_end(toys, stub_factory, tmp_path, capsys):
    stub = stub_factory(scripted(REPLIES))
    out = tmp_path / "cli-run"
    main_args = ["eval", "toy.answer", "-m", "stub-model", "-b", stub.base_url, "-r", "4", "-o", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        main(main_args)
    assert exit_info.value.code in (0, None)
    shown = capsys.readouterr().out
    assert "toy.answer" in shown and "0.417" in shown  # pass@1 in the summary table
    assert read_metadata(out)["metrics"]["environments"]["toy.answer"]["pass_at_k"]["4"] == pytest.approx(
        2 / 3
    )
    with pytest.raises(SystemExit) as exit_info:
        main(main_args)  # the folder holds a run: a clear error, not an overwrite
    assert exit_info.value.code == 2
    assert "already holds a run" in capsys.readouterr().err


def test_resuming_a_complete_run_asks_nothing(toys, stub_factory, tmp_path):
    stub = stub_factory(scripted(REPLIES))
    first = evaluate(_config(stub.base_url), tmp_path / "run")
    again = evaluate(_config(stub.base_url), tmp_path / "run", resume=True)
    assert len(stub.requests) == 12
    assert again["status"] == "complete"
    assert again["metrics"] == first["metrics"]
