"""A loopback stand-in for a SandboxFusion server: POST /run_code, as its Python runner answers it.

Like SandboxFusion, it writes the request's files (base64) into a fresh directory, writes `code` to a
file of its own naming there, runs it with `python3` in that directory under `run_timeout`, and answers
RunCodeResponse JSON. It isolates nothing: tests send it their own trusted programs only.
`fail_next` makes the next N requests answer HTTP 503; `sandbox_errors` the next N report SandboxError.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class SandboxFusionStub:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.sandbox_errors = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if self.path != "/run_code":
                    return self._send(404, {"detail": "Not Found"})
                if stub.fail_next > 0:
                    stub.fail_next -= 1
                    return self._send(503, {"detail": "unavailable"})
                if stub.sandbox_errors > 0:
                    stub.sandbox_errors -= 1
                    return self._send(200, {"status": "SandboxError", "message": "executor pod lost"})
                return self._send(200, run_code(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SandboxFusionStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_code(request: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        for name, content in (request.get("files") or {}).items():
            path = Path(directory, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(content))
        program = tempfile.NamedTemporaryFile("w", dir=directory, suffix=".py", delete=False)  # noqa: SIM115
        with program:
            program.write(request["code"])
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, program.name],
                input=request.get("stdin") or "",
                capture_output=True,
                text=True,
                cwd=directory,
                timeout=request.get("run_timeout", 10),
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            result = {
                "status": "TimeLimitExceeded",
                "execution_time": time.monotonic() - started,
                "return_code": None,
                "stdout": _text(expired.stdout),
                "stderr": _text(expired.stderr),
            }
            return {"status": "Failed", "message": "", "run_result": result, "files": {}}
    result = {
        "status": "Finished",
        "execution_time": time.monotonic() - started,
        "return_code": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
    }
    return {
        "status": "Success" if done.returncode == 0 else "Failed",
        "message": "",
        "run_result": result,
        "compile_result": None,
        "executor_pod_name": None,
        "files": {},
    }


def _text(data: bytes | str | None) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")
