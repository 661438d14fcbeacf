"""`sandboxfusion`: run jobs on a SandboxFusion fleet (the `/run_code` API verl and others use).

Each job is one POST of a Python program to `<url>/run_code`: the job's program travels as the file
main.py beside its other files, started by a two-line launcher (SandboxFusion names its own program file,
and a job's program may expect to be main.py). The fleet's isolation is the fleet's: rewardkit only sends
programs and reads results, so a job's trust model is what that deployment gives (see docs/integrations.md).
A judged job runs its judge and program as two processes of one fleet job, under the fleet's one user: they
are separate processes linked only by their pipes, but not separate users as on the Docker and bwrap backends.
Output beyond the job's limit is cut here and reported as `output_limit`; a fleet that cannot be reached,
answers with an error or reports a `SandboxError` gives `sandbox_error` (after `retries` more attempts).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.sandbox.api import ExecResult, Job, Limits, Sandbox
from rewardkit.sandbox.options import SandboxFusionOptions, validate_options

LAUNCHER = "import runpy, sys\nsys.argv = ['main.py']\nrunpy.run_path('main.py', run_name='__main__')\n"
# A judged job: the launcher starts the program (main.py, with the job's stdin) and the judge (judge/main.py,
# with judge/stdin), linked by a pipe each way as the Judge contract says; the job ends when the judge exits.
# Its last stdout line is the four streams and two exit codes, base64 in JSON, which the host splits again.
JUDGED_LAUNCHER = r"""
import base64, json, os, subprocess, sys, threading

def start(cwd, link):
    env = dict(os.environ, REWARDKIT_LINK=f"{link[0]} {link[1]}")
    pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return subprocess.Popen([sys.executable, "main.py"], cwd=cwd, env=env, pass_fds=link, **pipes)

def talk(process, data, into):
    into.extend(process.communicate(data))

calls, replies = os.pipe(), os.pipe()
program = start(".", (calls[0], replies[1]))
judge = start("judge", (replies[0], calls[1]))
for fd in (*calls, *replies):
    os.close(fd)
with open("judge/stdin", "rb") as handle:
    judge_stdin = handle.read()
ran, judged = [], []
program_io = threading.Thread(target=talk, args=(program, sys.stdin.buffer.read(), ran))
program_io.start()
talk(judge, judge_stdin, judged)
program.kill()
program_io.join()
with open("judge/limit") as handle:
    limit = int(handle.read())
streams = dict(zip(("stdout", "stderr", "verdict", "judge_log"), (*ran, *judged)))
reply = {key: base64.b64encode(value[:limit]).decode() for key, value in streams.items()}
truncated = any(len(value) > limit for value in streams.values())
print(json.dumps({**reply, "truncated": truncated, "judge_code": judge.returncode}))
"""
KILLED = (-9, 137)  # SIGKILL as a return code: how an out-of-memory kill usually shows


class SandboxFusionSandbox(Sandbox):
    """Sends each job to a SandboxFusion server; thread-safe, `concurrency` jobs at once."""

    name = "sandboxfusion"

    def __init__(self, **options: Any) -> None:
        self.options = validate_options(SandboxFusionOptions, options, "sandbox_options")
        self.concurrency = self.options.concurrency
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._client: Any = None
        self._lock = threading.Lock()

    def start(self) -> SandboxFusionSandbox:
        with self._lock:
            if self._client is None:
                import httpx

                headers = {}
                if self.options.token_env:
                    token = os.environ.get(self.options.token_env)
                    if not token:
                        raise ConfigError(
                            f"sandbox_options.token_env: the environment variable {self.options.token_env} "
                            "is not set; export the fleet's token in it"
                        )
                    headers["Authorization"] = f"Bearer {token}"
                limits = httpx.Limits(max_connections=self.concurrency)
                self._client = httpx.Client(
                    base_url=self.options.url.rstrip("/"), headers=headers, limits=limits
                )
        return self

    def close(self, wait: bool = False) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def run_job(self, job: Job) -> ExecResult:
        try:
            request = _request(job)
        except ValueError as error:
            return ExecResult.infrastructure(f"sandboxfusion: {error}")
        self.start()
        started = time.monotonic()
        with self._slots:
            reply, problem = self._post(request, job.limits)
        if reply is None:
            return ExecResult.infrastructure(f"sandboxfusion: {problem}", time.monotonic() - started)
        seconds = time.monotonic() - started
        if job.judge is not None:
            return _judged(reply, job.limits, seconds)
        return _result(reply, job.limits, seconds)

    def _post(self, request: dict[str, Any], limits: Limits) -> tuple[dict[str, Any] | None, str]:
        import httpx

        timeout = limits.timeout + float(request["compile_timeout"]) + self.options.request_margin
        delay, problem = self.options.backoff, ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            try:
                response = self._client.post("/run_code", json=request, timeout=timeout)
            except httpx.HTTPError as error:
                problem = f"{self.options.url} unreachable: {type(error).__name__}: {error}"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                problem = f"{self.options.url}/run_code answered HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                return None, f"{self.options.url}/run_code refused the job: HTTP {response.status_code}"
            try:
                reply = response.json()
            except ValueError:
                return None, f"{self.options.url}/run_code answered something other than JSON"
            if not isinstance(reply, dict):
                return None, f"{self.options.url}/run_code answered {type(reply).__name__}, not an object"
            if reply.get("status") == "SandboxError":
                problem = f"the fleet reported SandboxError: {str(reply.get('message', ''))[:300]}"
                continue
            return reply, ""
        return None, problem


def _request(job: Job) -> dict[str, Any]:
    try:
        stdin = job.stdin.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("SandboxFusion passes stdin as text, and this job's stdin is not UTF-8") from None
    files = {name: _b64(data) for name, data in job.files.items()}
    files["main.py"] = _b64(job.code.encode("utf-8"))
    if job.judge is not None:
        files["judge/main.py"] = _b64(job.judge.code.encode("utf-8"))
        files["judge/stdin"] = _b64(job.judge.stdin)
        files["judge/limit"] = _b64(str(job.limits.output).encode())
    return {
        "code": JUDGED_LAUNCHER if job.judge is not None else LAUNCHER,
        "language": "python",
        "stdin": stdin,
        "files": files,
        "compile_timeout": 10.0,
        "run_timeout": job.limits.timeout,
        "memory_limit_MB": max(1, job.limits.memory >> 20),
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _result(reply: dict[str, Any], limits: Limits, seconds: float) -> ExecResult:
    run = _run_result(reply)
    if isinstance(run, ExecResult):
        return ExecResult.infrastructure(run.error or "", seconds)
    stdout, stderr, truncated = _capped(run.get("stdout"), run.get("stderr"), limits.output)
    code = run.get("return_code")
    status = _status(run, code, truncated, stderr)
    if status == "sandbox_error":
        message = str(run.get("stderr") or "")[:300]
        return ExecResult.infrastructure(f"sandboxfusion: run error: {message}", seconds)
    duration = float(run.get("execution_time") or seconds)
    return ExecResult(status, code, stdout, stderr, duration, truncated)  # type: ignore[arg-type]


def _judged(reply: dict[str, Any], limits: Limits, seconds: float) -> ExecResult:
    """A judged job's result, from the launcher's last line: the judge's exit decides the status."""
    run = _run_result(reply)
    if isinstance(run, ExecResult):
        return ExecResult.infrastructure(run.error or "", seconds)
    if run.get("status") == "TimeLimitExceeded":
        return ExecResult("timeout", None, duration=seconds)
    lines = str(run.get("stdout") or "").splitlines()
    try:
        out = json.loads(lines[-1])
        streams = {key: base64.b64decode(out[key]) for key in ("stdout", "stderr", "verdict", "judge_log")}
        code, truncated = int(out["judge_code"]), bool(out["truncated"])
    except (IndexError, KeyError, TypeError, ValueError) as error:
        stderr = str(run.get("stderr") or "")[-300:]
        problem = f"the judged job's launcher gave no result ({error!r}; stderr: {stderr!r})"
        return ExecResult.infrastructure(f"sandboxfusion: {problem}", seconds)
    status = _status({}, code, truncated, streams["judge_log"])
    duration = float(run.get("execution_time") or seconds)
    return ExecResult(status, code, duration=duration, truncated=truncated, **streams)  # type: ignore[arg-type]


def _run_result(reply: dict[str, Any]) -> dict[str, Any] | ExecResult:
    run = reply.get("run_result") or {}
    if not isinstance(run, dict) or not run:
        message = str(reply.get("message") or "no run_result in the reply")[:300]
        return ExecResult.infrastructure(f"sandboxfusion: {message}")
    return run


def _status(run: dict[str, Any], code: Any, truncated: bool, stderr: bytes) -> str:
    if run.get("status") == "TimeLimitExceeded":
        return "timeout"
    if run.get("status") == "Error":
        return "sandbox_error"
    if truncated:
        return "output_limit"
    if code == 0:
        return "ok"
    if code in KILLED or b"MemoryError" in stderr[-4096:]:
        return "memory"
    return "error"


def _capped(stdout: Any, stderr: Any, limit: int) -> tuple[bytes, bytes, bool]:
    out, err = str(stdout or "").encode("utf-8"), str(stderr or "").encode("utf-8")
    truncated = len(out) + len(err) > limit
    if truncated:
        out = out[:limit]
        err = err[: max(0, limit - len(out))]
    return out, err, truncated
