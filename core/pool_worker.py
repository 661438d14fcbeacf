"""A worker process of `rewardkit.isolation.ProcessPool`: `python -m rewardkit.pool_worker`.

It never imports the caller's `__main__` (the reason it is started as its own module rather than by
multiprocessing's spawn or forkserver, which re-import the main script). It reads framed pickles on
stdin and answers on stdout: first `{"sys_path", "initializer", "max_bytes"}`, answered by
("ready", None); then `(module, qualname, args, kwargs)` calls, each answered by ("ok", value) or
("error", exception). Pickle is safe here: both ends are rewardkit's own trusted processes.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pickle
import signal
import struct
import sys
import threading
import time
from typing import IO, Any

HEADER = struct.Struct(">Q")


def send(stream: IO[bytes], message: Any) -> None:
    write_frame(stream, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def write_frame(stream: IO[bytes], data: bytes) -> None:
    frame = memoryview(HEADER.pack(len(data)) + data)
    while frame:  # an unbuffered pipe may take part of a large frame per write
        frame = frame[stream.write(frame) or 0 :]
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or None at end of input (the parent closed the pipe or exited)."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    body = _read_exactly(stream, HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def resolve(module: str, qualname: str, origin: str | None) -> Any:
    target: Any = _module(module, origin)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _module(name: str, origin: str | None) -> Any:
    """The caller's module `name`, from its file `origin` when the name finds another module here (a test
    module pytest imported from its path, whose top package another installed package shadows)."""
    try:
        module = importlib.import_module(name)
        if origin is None or getattr(module, "__file__", None) == origin:
            return module
    except ImportError:
        if origin is None:
            raise
    spec = importlib.util.spec_from_file_location(name, origin)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {name} from {origin}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    inbound = os.fdopen(os.dup(0), "rb")
    outbound = os.fdopen(os.dup(1), "wb")
    # Whatever the called code prints goes to stderr, never into the protocol's stream.
    os.dup2(2, 1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    with contextlib.suppress(BrokenPipeError):  # the parent stopped listening: it exited, or closed the pool
        _serve(inbound, outbound)


def _serve(inbound: IO[bytes], outbound: IO[bytes]) -> None:
    init = receive(inbound)
    if init is None:
        return
    sys.path[:] = init["sys_path"]
    try:
        if init["initializer"] is not None:
            resolve(*init["initializer"])()
    except BaseException as error:
        send(outbound, ("error", _portable(error)))
        return
    send(outbound, ("ready", None))
    while (call := receive(inbound)) is not None:
        send(outbound, _answer(call, init["max_bytes"]))


def _answer(
    call: tuple[str, str, str | None, tuple[Any, ...], dict[str, Any]], max_bytes: int
) -> tuple[str, Any]:
    module, qualname, origin, args, kwargs = call
    try:
        value = resolve(module, qualname, origin)(*args, **kwargs)
        size = len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as error:
        return ("error", _portable(error))
    if size > max_bytes:
        return ("error", ValueError(f"the result is {size} bytes, over the pool's {max_bytes}-byte limit"))
    return ("ok", value)


def _portable(error: BaseException) -> BaseException:
    """The exception itself when it pickles (so callers can catch its type), else a RuntimeError."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _exit_with_parent() -> None:
    """A worker busy in a runaway computation must not outlive a parent that was killed."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="rewardkit-parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
