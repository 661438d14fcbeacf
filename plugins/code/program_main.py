# mypy: ignore-errors
# ruff: noqa: F821 - Receiver, send and DecodeError come from plaindata.py, whose source precedes this one
# in the program (see verdicts.py); standard library only; runs in the sandbox.
"""The job's program (untrusted side): loads the model's solution and does what the judge asks of it.

Runs as the sandbox's program user, in the same process as the solution: nothing here is trusted, and the
judge (another process, another user) believes none of it beyond the plain data it decodes. Messages on the
link are tuples (seq, op, ...), answered by (seq, kind, ...):
  load (timeout)                       -> ok | error (detail)
  resolve (name)                       -> call | module (its name) | value (data) | missing
  call (name, args, kwargs, timeout)   -> return (value) | raise (type name, message) | timeout
  run (stdin text, timeout, cap)       -> ran | fail | timeout, with the captured stdout (stdio format)
"""

import builtins
import io
import os
import signal
import sys
import types


class CallTimeout(BaseException):
    pass


class Sink(io.TextIOBase):
    def write(self, text):
        return len(text)


def _on_alarm(*_):
    raise CallTimeout


def limited(fn, seconds):
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def describe(error):
    return f"{type(error).__name__}: {error}".replace("\n", " ")[:200]


class Solution:
    def __init__(self, source):
        self.source = source
        self.namespace = {}

    def fresh_main(self, stdin=b""):
        """A new `__main__` for the solution, as `python3 solution.py` would give it."""
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        return module.__dict__

    def load(self, timeout):
        namespace = self.fresh_main()
        sys.stdout = sys.stderr = Sink()
        try:
            limited(lambda: exec(compile(self.source, "solution.py", "exec"), namespace), timeout)
        except CallTimeout:
            return ("error", "loading the solution timed out")
        except BaseException as error:
            return ("error", describe(error))
        self.namespace = namespace
        return ("ok",)

    def resolve(self, name):
        if name not in self.namespace:
            return ("missing",)
        value = self.namespace[name]
        if isinstance(value, types.ModuleType):
            return ("module", value.__name__)
        return ("call",) if callable(value) else ("value", value)

    def call(self, name, args, kwargs, timeout):
        function = self.namespace.get(name)
        if not callable(function):
            return ("raise", "NameError", f"name {name!r} is not defined by the solution")
        try:
            return ("return", limited(lambda: function(*args, **kwargs), timeout))
        except CallTimeout:
            return ("timeout",)
        except BaseException as error:
            return ("raise", type(error).__name__, str(error)[:200])

    def run(self, stdin, timeout, cap):
        """One stdin/stdout case: the whole solution runs as a program with `stdin` as its input."""
        namespace = self.fresh_main(stdin.encode())
        captured = io.BytesIO()
        sys.stdout = io.TextIOWrapper(captured, encoding="utf-8", write_through=True)
        sys.stderr = Sink()
        verdict = "ran"
        try:
            limited(lambda: exec(compile(self.source, "solution.py", "exec"), namespace), timeout)
        except SystemExit as stop:
            verdict = "ran" if stop.code in (None, 0) else "fail"
        except CallTimeout:
            verdict = "timeout"
        except BaseException:
            verdict = "fail"
        return (verdict, captured.getvalue()[:cap])


def program_main():
    read_fd, write_fd = (int(fd) for fd in os.environ["REWARDKIT_LINK"].split())
    with open("solution.py", encoding="utf-8") as handle:
        solution = Solution(handle.read())
    handlers = {op: getattr(solution, op) for op in ("load", "resolve", "call", "run")}
    receiver = Receiver(read_fd)
    while True:
        try:
            seq, op, *args = receiver.receive()
            reply = handlers[op](*args)
        except (EOFError, DecodeError, KeyError, ValueError, TypeError):
            os._exit(0)  # the judge is done (or confused): nothing more to do
        try:
            send(write_fd, (seq, *reply), opaque=True)
        except BaseException as error:  # a result plain data cannot carry, even as an opaque value
            send(write_fd, (seq, "raise", "ValueError", f"the result cannot be sent: {describe(error)}"))


program_main()
