"""`rewardkit eval` on episode environments: the whole multi-turn episode is played with the evaluated model
(tools offered, tool calls read in the model's format, tool results sent back), the trajectory is stored in
the rollout record, `rescore` scores stored trajectories without running a tool again, and `--resume` plays
again the episodes that ended in an infrastructure failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import eval_toys
import pytest
from eval_helpers import TINY

from rewardkit.cli.main import main
from rewardkit.evaluation import parse_eval_config
from rewardkit.evaluation.export import ExportOptions, export
from rewardkit.evaluation.rescore import rescore
from rewardkit.evaluation.run import evaluate
from rewardkit.evaluation.rundir import latest_records, read_metadata
from rewardkit.runtime import host_loop

# The tiny model's tool-calling chat template and its short supervision live with the trainer's episode tests.
sys.path.append(str(Path(__file__).resolve().parents[2] / "trainer"))


def call(key: str, id: str = "call-1") -> dict:
    arguments = json.dumps({"key": key})
    return {"id": id, "type": "function", "function": {"name": "lookup", "arguments": arguments}}


def lookup_then_answer(body: dict) -> str | dict:
    """A model behind an OpenAI-compatible server with a tool parser: first a tool call, then the answer
    read from the tool's result."""
    messages = body["messages"]
    results = [m for m in messages if m["role"] == "tool"]
    if not results:
        key = messages[-1]["content"].split()[-1].rstrip("?")
        return {"tool_calls": [call(key)]}
    answer = results[-1]["content"]
    return answer if key_of(messages) == "0" else f"It is {answer}."  # sample k-1 answers in a sentence


def key_of(messages: list[dict]) -> str:
    return next(m for m in messages if m["role"] == "user")["content"].split()[-1].rstrip("?")


def run_config(base_url: str, **extra) -> object:
    return parse_eval_config(
        {
            "model": "stub-model",
            "environments": [{"name": "toy.lookup"}],
            "rollouts": 2,
            "endpoint": {"base_url": base_url},
            **extra,
        }
    )


def test_an_endpoint_gets_the_tools_and_the_episode_runs_to_done(toys, stub_factory, tmp_path):
    stub = stub_factory(lookup_then_answer)
    run = tmp_path / "run"
    evaluate(run_config(stub.base_url), run)

    schema = eval_toys.lookup.schema()
    assert schema["function"]["name"] == "lookup"
    assert schema["function"]["parameters"]["required"] == ["key"]
    assert len(stub.requests) == 8  # 2 samples x 2 rollouts x 2 turns
    assert all(request["tools"] == [schema] for request in stub.requests)
    # The second turn sends the call back with its id, and the result answers that id.
    second = next(
        r
        for r in stub.requests
        if any(m["role"] == "tool" for m in r["messages"]) and key_of(r["messages"]) == "0"
    )
    assert second["messages"][-2] == {"role": "assistant", "content": "", "tool_calls": [call("0")]}
    assert second["messages"][-1] == {
        "role": "tool",
        "content": "value-0",
        "name": "lookup",
        "tool_call_id": "call-1",
    }

    records = latest_records(run)
    assert len(records) == 4
    for (_, sample_id, _), record in records.items():
        key = sample_id.split("-")[1]
        trajectory = record.trajectory
        assert trajectory.stop_reason == "done" and trajectory.turns == 2
        assert [m["role"] for m in trajectory.messages] == ["assistant", "tool", "assistant"]
        assert trajectory.messages[0]["tool_calls"] == [call(key)]
        assert trajectory.messages[1]["content"] == f"value-{key}"
        assert record.result.components["looked_up"] == 1.0
        assert record.result.score == (1.0 if key == "0" else 0.0)
        assert record.tokens["completion"] >= 1 and record.tokens["prompt"] > 0
        assert {"generate", "tools", "env"} <= set(record.timing)
        assert trajectory.tools == (schema,)
    metrics = read_metadata(run)["metrics"]["environments"]["toy.lookup"]
    assert metrics["pass_at_k"]["1"] == 0.5
    assert metrics["turns_mean"] == 2.0 and metrics["tool_calls_mean"] == 1.0
    assert metrics["stop_reasons"] == {"done": 4}
    # Set up and scored on the host's scoring loop, where a client made in setup lives, not eval's own.
    assert set(eval_toys.LOOPS) == {host_loop().loop}

    # Verified SFT data: the whole conversation, with the tools the model was offered.
    export(run, tmp_path / "sft.jsonl", ExportOptions())
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 1  # the passing sample's two rollouts are the same conversation: deduplicated
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert rows[0]["tools"] == [schema]


def test_rescore_scores_stored_trajectories_without_running_tools(toys, stub_factory, tmp_path, capsys):
    stub = stub_factory(lookup_then_answer)
    run = tmp_path / "run"
    evaluate(run_config(stub.base_url), run)
    calls = len(eval_toys.LOOKUPS)

    with pytest.raises(SystemExit) as exit_info:
        main(["rescore", str(run), "--set", "strict=false", "--output", str(tmp_path / "fixed")])
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    assert len(eval_toys.LOOKUPS) == calls  # nothing was run again
    old, new = latest_records(run), latest_records(tmp_path / "fixed")
    assert [r.trajectory for r in new.values()] == [r.trajectory for r in old.values()]
    assert all(r.result.score == 1.0 for r in new.values())  # "It is value-1." now passes
    changes = read_metadata(tmp_path / "fixed")["changes"]["toy.lookup"]
    assert changes == {"rollouts": 4, "changed": 2, "fail -> pass": 2}
    assert set(eval_toys.LOOPS) == {host_loop().loop}  # rescoring, too, on the host's loop


def test_resume_plays_again_an_episode_whose_tool_infrastructure_failed(
    toys, stub_factory, tmp_path, monkeypatch
):
    stub = stub_factory(lookup_then_answer)
    run = tmp_path / "run"
    import rewardkit as rk

    monkeypatch.setattr(eval_toys, "lookup", rk.tool(name="lookup")(_broken_lookup))
    evaluate(run_config(stub.base_url, rollouts=1), run)
    failed = latest_records(run)
    assert all(r.trajectory.stop_reason == "env_error" for r in failed.values())
    assert all("sandbox down" in (r.result.error or "") for r in failed.values())

    monkeypatch.undo()
    evaluate(run_config(stub.base_url, rollouts=1), run, resume=True)
    records = latest_records(run)
    assert [r.trajectory.stop_reason for r in records.values()] == ["done", "done"]
    assert records[("toy.lookup", "k-0", 0)].result.score == 1.0


def test_eval_plays_episodes_with_a_tiny_local_model(toys, tiny_cache, tmp_path, capsys):
    """The retry environment on a tiny transformers model: wrong answers get feedback, the model answers
    again, and each rollout's record holds the whole conversation; rescore reads it back unchanged."""
    model = _supervised_tiny_model(tmp_path / "model")
    out = tmp_path / "run"
    args = ["eval", "retry", "--set", "base=toy.answer", "--set", "attempts=3", "--model", str(model)]
    args += ["--backend", "transformers", "-t", "0", "-n", "2", "-r", "2", "--max-tokens", "24"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "-o", str(out), "--no-progress"])
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    records = latest_records(out)
    assert len(records) == 4
    assert any(r.trajectory.turns >= 2 for r in records.values())
    for record in records.values():
        trajectory = record.trajectory
        assert record.result.error is None and trajectory.stop_reason in ("done", "length")
        roles = [m["role"] for m in trajectory.messages]
        assert roles == ["assistant", "user"] * (trajectory.turns - 1) + ["assistant"]
        assert all(m["content"].startswith("Your answer is incorrect") for m in trajectory.messages[1::2])
        assert record.tokens["completion"] > 0 and record.tokens["prompt"] > 0
        if trajectory.stop_reason == "done":  # every attempt was graded, and its score kept per turn
            assert len(trajectory.info["attempt_scores"]) == trajectory.turns == len(trajectory.turn_rewards)
    metrics = read_metadata(out)["metrics"]["environments"]["retry"]
    assert metrics["turns_mean"] == sum(r.trajectory.turns for r in records.values()) / 4

    rescored = rescore(out, tmp_path / "rescored")
    new = latest_records(tmp_path / "rescored")
    assert [r.trajectory for r in new.values()] == [r.trajectory for r in records.values()]
    assert [r.result.score for r in new.values()] == [r.result.score for r in records.values()]
    assert rescored["changes"]["retry"] == {"rollouts": 4, "changed": 0}


def test_a_local_model_gets_tools_through_its_template_and_its_calls_are_parsed(toys, tiny_cache, tmp_path):
    """The local chat path renders the tool schemas with the model's own chat template and reads the reply's
    `<tool_call>` markup with its format; the model's replies are scripted (a loopback generation backend),
    the template, tokenizer, parser and episode are real."""
    from rewardkit.evaluation.local import LocalChat, sampling_spec

    tokenizer = _tool_template_tokenizer(tmp_path / "tool-template")
    replies = {
        False: '<tool_call>\n{"name": "lookup", "arguments": {"key": "0"}}\n</tool_call><|im_end|>',
        True: "value-0<|im_end|>",
    }
    backend = ScriptedBackend(tokenizer, lambda prompt: replies["<tool_response>" in prompt])
    config = parse_eval_config(
        {"model": "scripted", "environments": [{"name": "toy.lookup", "num_prompts": 1}], "rollouts": 1}
    )
    stops = [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    chat = LocalChat(backend, tokenizer, sampling_spec(config.sampling, stops), owns_backend=False)
    evaluate(config, tmp_path / "run", chat=chat)

    (record,) = latest_records(tmp_path / "run").values()
    first, second = backend.prompts
    assert '"name": "lookup"' in first and "# Tools" in first  # the template rendered the schema
    assert "<tool_response>\nvalue-0\n</tool_response>" in second
    messages = record.trajectory.messages
    assert messages[0]["tool_calls"] == [
        {"type": "function", "function": {"name": "lookup", "arguments": {"key": "0"}}}
    ]
    assert messages[1] == {"role": "tool", "content": "value-0", "name": "lookup"}
    assert record.trajectory.stop_reason == "done" and record.result.score == 1.0

    # A conversation that outgrows the model's context ends the episode (stop reason budget), scored.
    room = len(tokenizer(first, add_special_tokens=False)["input_ids"]) + 4
    chat = LocalChat(
        backend, tokenizer, chat.spec, max_prompt_length=room, owns_backend=False, tool_format="hermes"
    )
    evaluate(config, tmp_path / "small", chat=chat)
    (record,) = latest_records(tmp_path / "small").values()
    assert record.trajectory.stop_reason == "budget" and record.trajectory.turns == 1
    assert record.result.error is None and record.result.score == 0.0


class ScriptedBackend:
    """A generation backend answering each prompt with `reply(prompt_text)`, tokenised (the model side of
    the local chat path, scripted so the test knows what the model said)."""

    name = "scripted"

    def __init__(self, tokenizer, reply) -> None:
        self.tokenizer = tokenizer
        self.reply = reply
        self.prompts: list[str] = []

    def generate(self, prompts, n, spec, seed):
        from rewardkit.trainer.generation.base import Completions

        texts = [self.tokenizer.decode(ids) for ids in prompts]
        self.prompts += texts
        ids = [self.tokenizer(self.reply(t), add_special_tokens=False)["input_ids"] for t in texts]
        return Completions(ids, [[0.0] * len(i) for i in ids], [False] * len(ids))

    def close(self) -> None:
        return None


async def _broken_lookup(key: str) -> str:
    """Look up a key while the tool's backend is down."""
    from rewardkit.episodes import ToolInfrastructureError

    raise ToolInfrastructureError("sandbox down")


def _tool_template_tokenizer(target: Path):
    """The tiny model's tokenizer with a Hermes tool-calling chat template (Qwen2.5's shape)."""
    from episode_toys import TOOL_TEMPLATE, model_with_template
    from transformers import AutoTokenizer

    from rewardkit.trainer.tiny import resolve_tiny

    return AutoTokenizer.from_pretrained(model_with_template(Path(resolve_tiny(TINY)), target, TOOL_TEMPLATE))


def _supervised_tiny_model(target: Path) -> Path:
    """The tiny model, briefly supervised so that its replies end (random weights never stop)."""
    import shutil

    from episode_toys import supervise
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.trainer.tiny import resolve_tiny

    shutil.copytree(resolve_tiny(TINY), target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    model = supervise(AutoModelForCausalLM.from_pretrained(target).float(), tokenizer)
    model.save_pretrained(target)
    return target


def test_an_endpoint_reply_becomes_a_message_with_its_tool_calls():
    from rewardkit.evaluation.endpoint import parse_reply

    message = {"content": "Let me look.", "tool_calls": [call("3")]}
    usage = {"prompt_tokens": 7, "completion_tokens": 5}
    payload = {"choices": [{"message": message, "finish_reason": "tool_calls"}], "usage": usage}
    plain = parse_reply(payload)
    assert plain.text == "Let me look." and plain.message is None  # a single-turn reply: nothing parsed
    reply = parse_reply(payload, with_message=True)
    assert reply.message == {"role": "assistant", "content": "Let me look.", "tool_calls": [call("3")]}
    assert reply.malformed is None and (reply.prompt_tokens, reply.completion_tokens) == (7, 5)
    nameless = {"content": None, "tool_calls": [{"function": {"arguments": "{}"}}]}
    broken = parse_reply({"choices": [{"message": nameless}]}, with_message=True)
    assert broken.malformed is not None and "without a function name" in broken.malformed
    assert broken.message == {"role": "assistant", "content": ""}
