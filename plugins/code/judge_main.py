# mypy: ignore-errors
# ruff: noqa: F821 - Receiver, send, DecodeError and MAX_MESSAGE come from plaindata.py, whose source
# precedes this one in the judge's program (see verdicts.py); standard library only; runs in the sandbox.
"""The judge of a code job (trusted side): runs the sample's tests against the program over the link.

Runs as the sandbox's judge user, in a process the program's user cannot read, signal, trace or write to.
The tests' namespace is built from the trusted prompt, setup and tests only; the solution's functions are
proxies that send plain-data arguments to the program process and return the plain data it sends back, so
no object, frame or hook of the solution ever exists here. Builtins and the prompt's names always win over
the solution's (see TestBuiltins). Verdicts are JSON lines on our stdout, which
only this process writes:
  {"load": "ok"} | {"load": "fail", "detail": ...}
  {"test": i, "verdict": "pass" | "fail" | "timeout", "detail": ...}      (function formats)
  {"case": i, "verdict": "ran" | "fail" | "timeout", "output": ...}       (stdio: the host compares)
  {"done": true}
"""

import builtins
import importlib
import io
import json
import os
import signal
import sys
import time

GRACE = 1.0  # seconds the judge waits beyond the program's own limit for its answer
# Exceptions a solution may raise into the tests by name. Never StopIteration & co: raised inside a test's
# map() or generator expression they would end an iteration early instead of failing the test.
RAISABLE = {
    "ArithmeticError", "AssertionError", "AttributeError", "EOFError", "IndexError", "KeyError",
    "LookupError", "MemoryError", "NameError", "NotImplementedError", "OSError", "OverflowError",
    "RecursionError", "RuntimeError", "TypeError", "UnicodeError", "ValueError", "ZeroDivisionError",
}  # fmt: skip


class TestTimeout(BaseException):
    """A test ran out of time (BaseException, so that no test's `except Exception` swallows it)."""


class CandidateError(Exception):
    """An exception the solution raised that the tests only see by its name."""


class Sink(io.TextIOBase):
    def write(self, text):
        return len(text)


def emit(**fields):
    line = json.dumps(fields).encode() + b"\n"
    while line:
        line = line[os.write(1, line) :]


def describe(error):
    return f"{type(error).__name__}: {error}".replace("\n", " ")[:200]


class Program:
    """The other end of the link. Replies to calls given up on (timeouts) are skipped by number."""

    def __init__(self, read_fd, write_fd):
        self.receiver = Receiver(read_fd, opaque=True)
        self.write_fd = write_fd
        self.seq = 0
        self.broken = None
        self.deadline = time.monotonic()

    def left(self):
        return max(0.001, self.deadline - time.monotonic())

    def ask(self, op, *args):
        return self.answer(self.post(op, *args))

    def post(self, op, *args):
        """Send a request without waiting for its answer; its number, for `answer`."""
        if self.broken:
            raise CandidateError(self.broken)
        self.seq += 1
        try:
            send(self.write_fd, (self.seq, op, *args))
        except TestTimeout:
            self.broken = "the program stopped reading its calls"
            raise
        return self.seq

    def answer(self, seq):
        while True:
            try:
                reply = self.receiver.receive()
            except (EOFError, DecodeError) as error:
                self.broken = f"the program failed: {describe(error)}"
                raise CandidateError(self.broken) from None
            if isinstance(reply, tuple) and reply and reply[0] == seq:
                return reply[1:]

    def within(self, seconds, fn):
        """fn(), cut short by TestTimeout after `seconds`; calls made meanwhile get what is left."""
        self.deadline = time.monotonic() + seconds
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _on_alarm(*_):
    raise TestTimeout("test timed out")


class Proxy:
    """A function of the solution, called in the program process."""

    __slots__ = ("name", "program")

    def __init__(self, program, name):
        self.program, self.name = program, name

    def __call__(self, *args, **kwargs):
        reply = self.program.ask("call", self.name, args, kwargs, self.program.left())
        if reply[0] == "return" and len(reply) == 2:
            return reply[1]
        if reply[0] == "timeout":
            raise TestTimeout("test timed out")
        name, message = reply[1:3] if len(reply) == 3 else ("Error", repr(reply))
        if isinstance(name, str) and name in RAISABLE:
            raise getattr(builtins, name)(message)
        raise CandidateError(f"{name}: {message}")

    def __repr__(self):
        return f"<solution function {self.name}>"


class TestBuiltins(dict):
    """The builtins the tests see: Python's own; then, for a name nothing trusted defines, the solution's
    (a function becomes a proxy, a plain value is copied, a module is imported here, from the image). Only
    names the tests actually look up are asked for, each once."""

    def __init__(self, program):
        super().__init__(vars(builtins))
        self.program = program

    def __missing__(self, name):
        what = self.program.ask("resolve", name)
        if what == ("call",):
            value = Proxy(self.program, name)
        elif len(what) == 2 and what[0] == "value":
            value = what[1]
        elif len(what) == 2 and what[0] == "module" and isinstance(what[1], str):
            try:
                value = importlib.import_module(what[1])
            except Exception:
                raise KeyError(name) from None
        else:
            raise KeyError(name)
        self[name] = value
        return value


def load(program, spec, namespace):
    """Have the program load the solution while the trusted prompt and setup run here. False if either
    fails."""
    request = program.post("load", spec["timeout"])
    try:
        source = spec.get("prompt", "") + "\n" + spec.get("setup", "")
        exec(compile(source, "prompt.py", "exec"), namespace)
    except BaseException as error:
        emit(load="fail", detail=f"the sample's prompt or setup failed: {describe(error)}")
        return False
    try:
        loaded = program.within(spec["timeout"] + GRACE, lambda: program.answer(request))
    except (TestTimeout, CandidateError) as error:
        loaded = ("error", describe(error))
    if loaded[0] != "ok":
        emit(load="fail", detail=str(loaded[1]) if len(loaded) > 1 else "load failed")
        return False
    emit(load="ok")
    return True


def run_function_tests(program, spec):
    namespace = {"__name__": "__tests__", "__builtins__": builtins}
    if not load(program, spec, namespace):
        return
    for name in spec.get("entry_points", []):
        namespace[name] = Proxy(program, name)
    if spec.get("candidate"):
        namespace["candidate"] = Proxy(program, spec["candidate"])
    namespace["__builtins__"] = TestBuiltins(program)  # the prompt's own functions keep plain builtins
    for index, test in enumerate(spec["tests"]):
        verdict, detail = "pass", ""
        try:
            code = compile(test, f"test_{index}.py", "exec")
            program.within(spec["timeout"], lambda code=code: exec(code, namespace))
        except TestTimeout:
            verdict, detail = "timeout", "test timed out"
        except BaseException as error:
            verdict, detail = "fail", describe(error)
        emit(test=index, verdict=verdict, detail=detail)


def run_stdio_cases(program, spec):
    for index, case_input in enumerate(spec["inputs"]):
        ask = lambda text=case_input: program.ask("run", text, spec["timeout"], MAX_MESSAGE // 2)  # noqa: E731
        try:
            verdict, output = program.within(spec["timeout"] + GRACE, ask)
        except TestTimeout:
            verdict, output = "timeout", b""
        except (CandidateError, ValueError):
            verdict, output = "fail", b""
        if verdict not in ("ran", "fail", "timeout") or not isinstance(output, bytes):
            verdict, output = "fail", b""
        emit(case=index, verdict=verdict, output=output.decode("utf-8", "replace"))


def judge_main():
    chunks = []
    while chunk := os.read(0, 1 << 16):
        chunks.append(chunk)
    spec = json.loads(b"".join(chunks))
    read_fd, write_fd = (int(fd) for fd in os.environ["REWARDKIT_LINK"].split())
    program = Program(read_fd, write_fd)
    sys.stdout = sys.stderr = Sink()  # what the tests print must not mix with the verdicts
    if spec["format"] == "stdio":
        run_stdio_cases(program, spec)
    else:
        run_function_tests(program, spec)
    emit(done=True)


judge_main()
