# mypy: ignore-errors
# (runs inside the sandbox image with the standard library only; not part of the typed host API)
"""Test harness that runs INSIDE the sandbox as main.py (standard library only; not imported by the host).

Reads a per-job nonce from stdin and the solution/tests from files, deletes those files, then runs the
solution and each test. Verdicts go out as lines `<nonce> <verdict...>` on a private dup of stdout. The
untrusted code never sees the nonce in its source, files, environment or stdin, so it cannot print a
passing verdict itself, and exiting early (exit(0), os._exit(0)) just leaves verdicts missing = failed.
Defences against known reward hacks: results whose type overrides comparison/arithmetic dunders
(AlwaysEqual) fail the test; tests see a snapshot of builtins taken before the solution ran; any change to
builtins or common modules (rebinding AssertionError, exit, math.isclose...) fails the remaining tests.
Limits: code that introspects the harness's frames or memory can still find the nonce; stdio outputs are
compared on the host, which that cannot defeat.
"""


def main():  # noqa: PLR0915 - one closure on purpose: nothing of it is reachable as a global
    import base64
    import builtins
    import io
    import json
    import os
    import signal
    import sys
    import types

    for name in (
        "math",
        "re",
        "collections",
        "itertools",
        "functools",
        "heapq",
        "operator",
        "string",
        "bisect",
    ):
        __import__(name)
    globals().pop("main", None)
    out_fd = os.dup(1)
    write, exit_now, type_of, isinstance_, vars_ = os.write, os._exit, type, isinstance, vars
    base_exc, sysexit = BaseException, SystemExit
    stdin_data = b""
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        stdin_data += chunk
    nonce = stdin_data.split(b"\n", 1)[0]
    with open("spec.json", encoding="utf-8") as handle:
        spec = json.load(handle)
    with open("solution.py", encoding="utf-8") as handle:
        solution = handle.read()
    for name in ("spec.json", "solution.py", "main.py"):
        os.unlink(name)
    modules = [builtins] + [sys.modules[n] for n in ("math", "re", "collections", "itertools", "functools")]
    snapshot = [(m, dict(vars_(m))) for m in modules] + [(sys, {"exit": sys.exit, "modules": sys.modules})]
    safe_builtins = dict(vars_(builtins))
    heap_flag = 1 << 9
    allowed_dunders = {
        "__init__", "__new__", "__repr__", "__str__", "__module__", "__qualname__", "__doc__", "__dict__",
        "__weakref__", "__slots__", "__annotations__", "__getnewargs__", "__match_args__", "__format__",
        "__init_subclass__", "__class_getitem__", "__orig_bases__", "__parameters__", "__firstlineno__",
        "__static_attributes__", "__getstate__", "__reduce__", "__reduce_ex__", "__annotate__",
    }  # fmt: skip
    trusted_heap = {collections_type: dict(vars_(collections_type)) for collections_type in _stdlib_classes()}
    containers = (list, tuple, set, frozenset, dict)
    c_descriptors = (
        types.WrapperDescriptorType, types.MethodDescriptorType, types.GetSetDescriptorType,
        types.MemberDescriptorType, types.ClassMethodDescriptorType,
    )  # fmt: skip

    def emit(*words):
        line = b"\n" + nonce + b" " + " ".join(str(w) for w in words).encode() + b"\n"
        write(out_fd, line)

    def tampered():
        for module, saved in snapshot:
            current = vars_(module)
            for key, value in saved.items():
                if current.get(key) is not value:
                    return f"{getattr(module, '__name__', module)}.{key}"
        return None

    def suspicious_type(cls):
        for klass in cls.__mro__:
            if not klass.__flags__ & heap_flag:
                continue
            if klass in trusted_heap:
                if dict(vars_(klass)) != trusted_heap[klass]:
                    return klass.__name__
                continue
            for key, value in vars_(klass).items():
                if not (key.startswith("__") and key.endswith("__")) or key in allowed_dunders:
                    continue
                # C types (re.Match...) carry their own slot descriptors; Python code cannot forge those.
                if value is None or (type_of(value) in c_descriptors and value.__objclass__ is klass):
                    continue
                return f"{klass.__name__}.{key}"
        return None

    def check_result(value):
        stack, seen = [value], 0
        while stack and seen < 1_000_000:
            item = stack.pop()
            seen += 1
            problem = suspicious_type(type_of(item))
            if problem:
                raise _Rejected(f"result type overrides {problem}")
            cls = type_of(item)
            if cls is dict:
                stack.extend(item.keys())
                stack.extend(item.values())
            elif cls in containers:
                stack.extend(item)
        return value

    def guard(fn):
        def guarded(*args, **kwargs):
            return check_result(fn(*args, **kwargs))

        guarded.__name__ = getattr(fn, "__name__", "candidate")
        return guarded

    class _Timeout(base_exc):
        pass

    def on_alarm(*_):
        raise _Timeout("test timed out")

    def run_with_alarm(fn, seconds):
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    class _Sink(io.TextIOBase):
        def write(self, text):
            return len(text)

    def fresh_namespace():
        main_module = types.ModuleType("__main__")
        sys.modules["__main__"] = main_module
        namespace = main_module.__dict__
        namespace["__builtins__"] = builtins
        return namespace

    def describe(error):
        text = f"{type_of(error).__name__}: {error}"
        return text.replace("\n", " ")[:200]

    def run_function_tests(tests, setup, entry_point):
        namespace = fresh_namespace()
        sys.stdout = sys.stderr = _Sink()
        sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
        try:
            run_with_alarm(lambda: exec(compile(solution, "solution.py", "exec"), namespace), spec["timeout"])
        except base_exc as error:
            emit("load", "fail", base64.b64encode(describe(error).encode()).decode())
            return
        emit("load", "ok")
        test_globals = {
            k: (guard(v) if isinstance_(v, types.FunctionType) else v) for k, v in namespace.items()
        }
        test_globals["__builtins__"] = safe_builtins
        test_globals["__name__"] = "__tests__"
        try:
            exec(compile(setup, "setup.py", "exec"), test_globals)
        except base_exc as error:
            emit("load", "fail", base64.b64encode(describe(error).encode()).decode())
            return
        if entry_point:
            test_globals["candidate"] = test_globals.get(entry_point)
        for index, test in enumerate(tests):
            verdict, detail = "pass", ""
            try:
                run_with_alarm(
                    lambda t=test, i=index: exec(compile(t, f"test_{i}.py", "exec"), test_globals),
                    spec["timeout"],
                )
            except _Timeout:
                verdict, detail = "timeout", "test timed out"
            except base_exc as error:
                verdict, detail = "fail", describe(error)
            where = tampered()
            if where:
                emit("tampered", where)
                return
            emit("test", index, verdict, base64.b64encode(detail.encode()).decode())

    def run_stdio_cases(cases):
        for index, case_input in enumerate(cases):
            namespace = fresh_namespace()
            captured = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
            sys.stdout, sys.stderr = captured, _Sink()
            sys.stdin = io.TextIOWrapper(io.BytesIO(case_input.encode()), encoding="utf-8")
            verdict = "ran"
            try:
                run_with_alarm(
                    lambda ns=namespace: exec(compile(solution, "solution.py", "exec"), ns), spec["timeout"]
                )
            except sysexit as stop:
                verdict = "ran" if stop.code in (None, 0) else "fail"
            except _Timeout:
                verdict = "timeout"
            except base_exc:
                verdict = "fail"
            output = captured.buffer.getvalue()
            emit("case", index, verdict, base64.b64encode(output).decode())

    try:
        if spec["format"] == "stdio":
            run_stdio_cases(spec["inputs"])
        else:
            run_function_tests(spec["tests"], spec.get("setup", ""), spec.get("entry_point"))
        emit("done")
    except base_exc:
        pass
    exit_now(0)


class _Rejected(BaseException):
    """A result object that could fake comparisons (AlwaysEqual); the test fails."""


def _stdlib_classes():
    # Python-level stdlib classes a correct solution may return (captured before untrusted code runs).
    import collections
    import fractions

    return (collections.Counter, fractions.Fraction)


main()
