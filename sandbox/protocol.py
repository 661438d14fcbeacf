"""Host side of the supervisor protocol over a Docker attach socket.

Docker multiplexes a non-TTY container's stdout/stderr on the attach socket in frames of an 8-byte header
(stream type, 3 zero bytes, 4-byte big-endian length). Inside the stdout stream the supervisor sends its
own frames: a 4-byte big-endian length and a JSON object. Every read has a deadline: a missed deadline
or a malformed frame raises ProtocolError and the slot is replaced.

The container's command is LOADER; the first frame the host sends is the supervisor's own source (its
modules, see `supervisor_bundle`), so that no command line in the container shows it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

from rewardkit.sandbox.api import ExecResult, Job

MAX_RESPONSE = 64 << 20
# Trusted programs one container keeps compiled; the supervisor keeps whatever it is asked to.
KEPT_PROGRAMS_MAX = 16
# The supervisor's modules in import order; each ships under its own name, so they import one another
# inside the container exactly as on the host.
BUNDLE = ("runner", "hygiene", "seccomp", "zygote", "supervisor")
LOADER = """\
import json, os, struct, sys, types
def read(n):
    data = bytearray()
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data
bundle = json.loads(read(struct.unpack(">I", read(4))[0]))
for name in bundle["packages"]:
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__path__ = []
for name, source in bundle["modules"]:
    module = sys.modules[name] = types.ModuleType(name)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
    exec(compile(source, name, "exec"), module.__dict__)
sys.modules[bundle["main"]].main()
"""


class ProtocolError(Exception):
    """The supervisor misbehaved, went away or missed its deadline."""


@functools.lru_cache(maxsize=1)
def supervisor_bundle() -> bytes:
    """The frame LOADER reads first: the supervisor's modules, sources as on disk."""
    folder = Path(__file__).parent
    modules = [[f"rewardkit.sandbox.{name}", (folder / f"{name}.py").read_text()] for name in BUNDLE]
    bundle = {"packages": ["rewardkit", "rewardkit.sandbox"], "modules": modules}
    body = json.dumps({**bundle, "main": "rewardkit.sandbox.supervisor"}).encode()
    return struct.pack(">I", len(body)) + body


class AttachChannel:
    """A request/response channel to the supervisor (PID 1) of one container."""

    def __init__(self, sock: socket.socket, keepalive: Any = None) -> None:
        self.sock = sock
        self._keepalive = keepalive
        self._stdout = bytearray()
        self._frame_left = 0
        self._frame_stream = 1
        self._raw = bytearray()

    def boot(self, deadline: float) -> None:
        """Send the supervisor its source and wait until it answers a ping."""
        self._send(supervisor_bundle(), deadline)
        self.request({"ping": True}, deadline)

    def request(self, payload: dict[str, Any], deadline: float) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        self._send(struct.pack(">I", len(body)) + body, deadline)
        size = struct.unpack(">I", self._read_stdout(4, deadline))[0]
        if size > MAX_RESPONSE:
            raise ProtocolError(f"supervisor announced a {size}-byte response")
        try:
            return dict(json.loads(self._read_stdout(size, deadline)))
        except ValueError as error:
            raise ProtocolError(f"supervisor sent malformed JSON: {error}") from None

    def close(self) -> None:
        """End the connection now. shutdown() first: close() alone leaves the socket open while the SDK's
        SocketIO still references it, and does not wake a thread blocked in recv()."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        if self._keepalive is not None:
            with contextlib.suppress(OSError):
                self._keepalive.close()

    def _send(self, data: bytes, deadline: float) -> None:
        try:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            self.sock.sendall(data)
        except OSError as error:
            raise ProtocolError(f"cannot send to the sandbox supervisor: {error}") from None

    # -- demultiplexing ----------------------------------------------------------------------------
    def _read_stdout(self, n: int, deadline: float) -> bytes:
        while len(self._stdout) < n:
            self._pump(deadline)
        data = bytes(self._stdout[:n])
        del self._stdout[:n]
        return data

    def _pump(self, deadline: float) -> None:
        """Read one chunk from the socket and route the payload bytes it contains."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError("sandbox supervisor missed its deadline")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except TimeoutError:
            raise ProtocolError("sandbox supervisor missed its deadline") from None
        except OSError as error:
            raise ProtocolError(f"attach socket failed: {error}") from None
        if not chunk:
            raise ProtocolError("sandbox supervisor went away (EOF on the attach socket)")
        self._raw += chunk
        self._route()

    def _route(self) -> None:
        while self._raw:
            if self._frame_left == 0:
                if len(self._raw) < 8:
                    return
                self._frame_stream = self._raw[0]
                self._frame_left = struct.unpack(">I", self._raw[4:8])[0]
                del self._raw[:8]
                continue
            take = min(self._frame_left, len(self._raw))
            if self._frame_stream == 1:
                self._stdout += self._raw[:take]
            # stderr of the supervisor (a crash trace) is dropped: the EOF that follows is what counts
            del self._raw[:take]
            self._frame_left -= take


def job_request(job: Job, mode: str, kept: set[str]) -> dict[str, Any]:
    """The request for `job`. A trusted program travels once per container: `kept` holds the digests
    this container already keeps, and gains a digest when this request asks it to keep one. The judge is
    always trusted; the program is when the job says so and runs in the forked interpreter."""
    limits = {"timeout": job.limits.timeout, "memory": job.limits.memory, "output": job.limits.output}
    program = _program(job.code, job.trusted and mode == "fork", kept)
    program.update(stdin=_b64(job.stdin), files={name: _b64(data) for name, data in job.files.items()})
    request: dict[str, Any] = {"limits": limits, "mode": mode, "program": program}
    if job.judge is not None:
        request["judge"] = {**_program(job.judge.code, True, kept), "stdin": _b64(job.judge.stdin)}
    return request


def _program(code: str, keepable: bool, kept: set[str]) -> dict[str, Any]:
    if not keepable:
        return {"source": code}
    digest = program_digest(code)
    if digest in kept:
        return {"digest": digest}
    if len(kept) < KEPT_PROGRAMS_MAX:
        kept.add(digest)
        return {"digest": digest, "source": code, "keep": True}
    return {"digest": digest, "source": code}


@functools.lru_cache(maxsize=64)
def program_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parse_result(reply: dict[str, Any]) -> tuple[ExecResult, list[str]]:
    """The ExecResult, and what the supervisor found left of the job (empty: the slot is clean)."""
    if "refused" in reply:
        raise ProtocolError(f"the sandbox supervisor refused the job: {reply['refused']}")
    try:
        result = ExecResult(
            status=reply["status"],
            exit_code=reply.get("exit_code"),
            stdout=base64.b64decode(reply.get("stdout", "")),
            stderr=base64.b64decode(reply.get("stderr", "")),
            duration=float(reply.get("duration", 0.0)),
            truncated=bool(reply.get("truncated", False)),
            verdict=base64.b64decode(reply.get("verdict", "")),
            judge_log=base64.b64decode(reply.get("judge_log", "")),
        )
        problems = [str(problem) for problem in reply["problems"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"supervisor sent an incomplete result: {error}") from None
    return result, problems
