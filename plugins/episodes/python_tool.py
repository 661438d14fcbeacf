"""The `python` tool: the model's code runs in a `rewardkit.sandbox` backend and it reads what was printed.

`PythonTool` owns one sandbox (started on first use, closed by `close`). The registered tool `python` runs in
a process-wide Docker sandbox; environments that take a sandbox choice in their config make their own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

from rewardkit.episodes.tools import Tool, ToolInfrastructureError, make_tool
from rewardkit.sandbox import Limits, Sandbox, make_sandbox
from rewardkit.singleton import process_singleton

OUTPUT_SHOWN = 4000  # characters of stdout / stderr returned to the model


class PythonTool:
    """Runs model-written programs in a sandbox; `tool` is the Tool the model calls (named `python`)."""

    def __init__(
        self,
        sandbox: str = "docker",
        sandbox_options: Mapping[str, Any] | None = None,
        timeout: float = 10.0,
        memory_mb: int = 512,
    ) -> None:
        self.backend = sandbox
        self.options = dict(sandbox_options or {})
        self.limits = Limits(timeout=timeout, memory=memory_mb << 20)
        self._sandbox: Sandbox | None = None
        self._lock = threading.Lock()
        self.tool: Tool = make_tool(self.run, name="python", timeout=timeout + 30.0)

    def start(self) -> Sandbox:
        with self._lock:
            if self._sandbox is None:
                sandbox = make_sandbox(self.backend, **self.options)
                sandbox.start()  # fails here (no Docker, no image) rather than on the model's first call
                self._sandbox = sandbox
            return self._sandbox

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.close()

    async def run(self, code: str) -> str:
        """Run a Python program in a sandbox and return what it printed. Nothing persists between calls:
        print every value you need.

        Args:
            code: a complete Python program
        """
        sandbox = await asyncio.to_thread(self.start)
        result = await asyncio.to_thread(sandbox.run, code, limits=self.limits)
        if result.status == "sandbox_error":
            raise ToolInfrastructureError(f"sandbox {self.backend}: {result.error}")
        return describe(result.status, result.stdout, result.stderr, self.limits.timeout)


def describe(status: str, stdout: bytes, stderr: bytes, timeout: float) -> str:
    """What the model sees: the output, and the failure when there was one."""
    out = stdout.decode("utf-8", "replace")[-OUTPUT_SHOWN:]
    err = stderr.decode("utf-8", "replace")[-OUTPUT_SHOWN:]
    if status == "ok":
        return out if out.strip() else "(no output: print the values you need)"
    problem = {
        "timeout": f"the program ran longer than {timeout:g}s and was stopped",
        "memory": "the program ran out of memory",
        "output_limit": "the program printed too much",
    }.get(status, "the program failed")
    return "\n".join(part for part in (out, err, f"error: {problem}") if part.strip())


@process_singleton(rebuild_after_fork=True)  # a sandbox's threads and containers stay with the parent
def default_python() -> PythonTool:
    """The process's shared python tool, started on first use."""
    return PythonTool()


async def python(code: str) -> str:
    """Run a Python program in a sandbox and return what it printed. Nothing persists between calls: print
    every value you need.

    Args:
        code: a complete Python program
    """
    return await default_python().run(code)
