"""Host side of the supervisor protocol over a Docker attach socket.

Docker multiplexes a non-TTY container's stdout/stderr on the attach socket in frames of an 8-byte header
(stream type, 3 zero bytes, 4-byte big-endian length). Inside the stdout stream the supervisor sends its
own frames: a 4-byte big-endian length and a JSON object. Every read has a deadline: a missed deadline
or a malformed frame raises ProtocolError and the slot is replaced.
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
from typing import Any

from rewardkit.sandbox.api import ExecResult, Job

MAX_RESPONSE = 64 << 20


class ProtocolError(Exception):
    """The supervisor misbehaved, went away or missed its deadline."""


class AttachChannel:
    """A request/response channel to the supervisor (PID 1) of one container."""

    def __init__(self, sock: socket.socket, keepalive: Any = None) -> None:
        self.sock = sock
        self._keepalive = keepalive
        self._stdout = bytearray()
        self._frame_left = 0
        self._frame_stream = 1
        self._raw = bytearray()

    def request(self, payload: dict[str, Any], deadline: float) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        try:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            self.sock.sendall(struct.pack(">I", len(body)) + body)
        except OSError as error:
            raise ProtocolError(f"cannot send job to the sandbox supervisor: {error}") from None
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


# Trusted programs one container keeps compiled; the supervisor keeps whatever it is asked to.
KEPT_PROGRAMS_MAX = 16


def job_request(job: Job, mode: str, kept: set[str]) -> dict[str, Any]:
    """The request for `job`. A trusted program in fork mode travels once per container: `kept` holds
    the digests this container already keeps, and gains the digest when this request asks it to keep one.
    """
    request: dict[str, Any] = {
        "code": job.code,
        "stdin": base64.b64encode(job.stdin).decode(),
        "files": {name: base64.b64encode(data).decode() for name, data in job.files.items()},
        "timeout": job.limits.timeout,
        "memory": job.limits.memory,
        "output": job.limits.output,
        "mode": mode,
    }
    if job.trusted and mode == "fork":
        digest = program_digest(job.code)
        request["program"] = digest
        if digest in kept:
            del request["code"]
        elif len(kept) < KEPT_PROGRAMS_MAX:
            request["keep"] = True
            kept.add(digest)
    return request


@functools.lru_cache(maxsize=64)
def program_digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def parse_result(reply: dict[str, Any]) -> tuple[ExecResult, bool]:
    """The ExecResult and whether the slot is still clean enough for another job."""
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
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"supervisor sent an incomplete result: {error}") from None
    return result, bool(reply.get("healthy", False))
