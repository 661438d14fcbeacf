"""`--resume` after `kill -9`: finished rollouts are kept, errored ones redone, nothing is asked twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from eval_helpers import scripted

from rewardkit.evaluation.executor import rollout_seed
from rewardkit.evaluation.rundir import latest_records, read_metadata

KEYS = [("toy.answer", f"test-{q}", r) for q in range(3) for r in range(4)]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from rewardkit.cli.main import main; main()", *args]


def _lines(path) -> int:
    return path.read_text().count("\n") if path.exists() else 0


def test_resume_after_kill_9(toys, stub_factory, tmp_path):
    first = {key: key[1].split("-")[1] for key in KEYS}  # every reply correct...
    first[KEYS[0]] = 400  # ...but one generation fails (HTTP 400 is not retried)
    first[KEYS[1]] = "infra"  # ...and one is scored while the scoring backend is down
    stub = stub_factory(scripted(first), delay=0.15)
    run = tmp_path / "run"
    args = _cli("eval", "toy.answer", "-m", "stub", "-b", stub.base_url, "-r", "4", "-c", "2", "-o", str(run))
    process = subprocess.Popen(args, env={**toys, "EVAL_TOYS_SCORE_DOWN": "1"}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _lines(run / "rollouts.jsonl") < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = _lines(run / "rollouts.jsonl")
    assert 5 <= kept < len(KEYS), process.stderr.read().decode() if process.stderr else ""
    with (run / "rollouts.jsonl").open("a") as handle:
        handle.write('{"version": 1, "env": "toy.ans')  # a line torn by the kill
    before = latest_records(run)
    assert before[KEYS[0]].result.error.startswith("generation failed")
    assert before[KEYS[1]].result.error is not None
    assert read_metadata(run)["status"] == "running"

    second = {key: key[1].split("-")[1] for key in KEYS}
    second[KEYS[1]] = "not asked again: its generation succeeded"
    resumed = stub_factory(scripted(second))
    # The endpoint moved (a restarted server): --base-url may change on resume, the sampling may not.
    refused = subprocess.run(
        _cli("eval", "--resume", str(run), "-t", "0.5"), check=False, env=toys, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--temperature cannot change" in refused.stderr
    done = subprocess.run(
        _cli("eval", "--resume", str(run), "-b", resumed.base_url),
        check=False,
        env=toys,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr

    asked = {request["seed"] for request in resumed.requests}
    assert len(resumed.requests) == len(KEYS) - kept + 1  # the missing ones, and the failed generation
    assert rollout_seed(0, KEYS[0]) in asked and rollout_seed(0, KEYS[1]) not in asked
    records = latest_records(run)
    assert set(records) == set(KEYS)
    assert all(record.result.error is None for record in records.values())
    assert records[KEYS[1]].completion == "infra"  # re-scored from the stored completion
    final = read_metadata(run)
    assert final["status"] == "complete"
    killed, completed = final["timing"]["segments"]
    assert killed["killed"] and killed["seconds"] > 0  # the killed run's time is counted too
    assert completed["seconds"] > 0 and not completed.get("killed")
    m = final["metrics"]["environments"]["toy.answer"]
    assert m["rollouts"] == 12 and m["error_rate"] == 0.0
    assert m["pass@1"] == pytest.approx((0.75 + 1 + 1) / 3)


def test_ctrl_c_keeps_finished_rollouts_and_says_how_to_resume(toys, stub_factory, tmp_path):
    stub = stub_factory(lambda body: "0", delay=0.2)
    run = tmp_path / "run"
    args = _cli("eval", "toy.answer", "-m", "stub", "-b", stub.base_url, "-r", "4", "-c", "2", "-o", str(run))
    process = subprocess.Popen(args, env=toys, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _lines(run / "rollouts.jsonl") < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert f"rewardkit eval --resume {run}" in out
    metadata = read_metadata(run)
    assert metadata["status"] == "interrupted"
    kept = len(latest_records(run))
    assert 3 <= kept < 12
    assert metadata["metrics"]["overall"]["rollouts"] == kept


def test_a_refusing_endpoint_stops_the_run_with_one_line(toys, stub_factory, tmp_path):
    stub = stub_factory(lambda body: 401)
    args = _cli("eval", "toy.answer", "-m", "stub", "-b", stub.base_url, "-o", str(tmp_path / "run"))
    done = subprocess.run(args, env=toys, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {stub.base_url}/chat/completions answered HTTP 401: "
        '{"error": "scripted 401"}; check --model, --base-url and the key'
    ]
    assert len(stub.requests) <= 3  # stopped at once, not one failure per rollout
