"""A loopback OpenAI-compatible chat endpoint that answers from a script, so metrics are known exactly."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[dict[str, Any]], "str | tuple[str, str] | dict[str, Any] | int"]


class OpenAIStub:
    """`script(request_body)` -> reply text, (text, finish_reason), a whole `message` dict (e.g. with
    `tool_calls`, as a server with a tool-call parser answers), or an HTTP status to fail with.
    The first `fail_first` requests get HTTP 503."""

    def __init__(self, script: Script, delay: float = 0.0, fail_first: int = 0) -> None:
        self.script = script
        self.delay = delay
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.requests.append(
                        {"path": self.path, "auth": self.headers.get("Authorization"), **body}
                    )
                    failing = len(stub.requests) <= stub.fail_first
                if stub.delay:
                    time.sleep(stub.delay)
                if failing:
                    self._send(503, {"error": "overloaded"})
                    return
                reply = stub.script(body)
                if isinstance(reply, int):  # a scripted HTTP error
                    self._send(reply, {"error": f"scripted {reply}"})
                    return
                if isinstance(reply, dict):
                    message = {"role": "assistant", "content": None, **reply}
                    finish = "tool_calls" if reply.get("tool_calls") else "stop"
                else:
                    text, finish = reply if isinstance(reply, tuple) else (reply, "stop")
                    message = {"role": "assistant", "content": text}
                prompt = " ".join(m.get("content") or "" for m in body["messages"])
                self._send(
                    200,
                    {
                        "id": "stub",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "finish_reason": finish,
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(prompt.split()),
                            "completion_tokens": len((message["content"] or "").split()),
                        },
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda request, address: None  # a killed client's broken pipe is expected
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
