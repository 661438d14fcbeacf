"""A wrong solution cannot score 1 and cannot turn its 0 into a missing score.

Each forgery below reaches from the solution's side for the tests, the comparison or the verdict; most of
them made a wrong solution pass the harness this project had before, which ran the tests in the solution's
own interpreter. Here the tests run in the judge, another process as another user, and only plain data
comes back. Each denial of service below would have turned the 0 into an infrastructure error. Our own
payloads, one per mechanism.
"""

from __future__ import annotations

import pytest

import rewardkit as rk
from rewardkit.sandbox.testing import CLEAN_PROBE, PROBE

WRONG = "\ndef solve(x):\n    return 0\n"
TESTS = ["assert solve(5) == 42", "assert abs(solve(1) - 42) < 1e-9", "assert math.isclose(solve(2), 42)"]
SAMPLE = rk.Sample(
    id="forge",
    prompt=[rk.user("write solve")],
    info={"format": "mbpp", "test_list": TESTS, "test_imports": ["import math"]},
)

FORGERIES = {
    "reads-the-expected-value-from-the-test-frame": (
        "import sys\ndef solve(x):\n    frame = sys._getframe(1)\n"
        "    while frame and not frame.f_code.co_filename.startswith('test_'):\n"
        "        frame = frame.f_back\n"
        "    return [c for c in frame.f_code.co_consts if isinstance(c, int)][-1] if frame else 0\n"
    ),
    "trace-hook-rebinds-the-entry-point": (
        "import sys\ndef hook(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_filename.startswith('test_'):\n"
        "        answer = [c for c in frame.f_code.co_consts if isinstance(c, int)][-1]\n"
        "        frame.f_globals['solve'] = lambda x: answer\n    return None\n"
        "sys.settrace(hook)\nsys.setprofile(hook)" + WRONG
    ),
    "gc-walk-rewrites-the-tests": (
        "import gc\nfor o in gc.get_objects():\n"
        "    if isinstance(o, list) and any(isinstance(i, str) and i.startswith('assert') for i in o):\n"
        "        o[:] = ['pass'] * len(o)" + WRONG
    ),
    "ctypes-rewrites-interned-strings": (
        "import ctypes\nfor word in ('fail', 'AssertionError'):\n"
        "    target = 'pass' if word == 'fail' else 'ZeroDivisionE'[:len(word)].ljust(len(word))\n"
        "    ctypes.memmove(id(word) + 48, target.encode(), len(word))" + WRONG
    ),
    "shadows-builtins-the-tests-use": "abs = lambda x: 0\nAssertionError = None" + WRONG,
    "replaces-sys-modules": (
        "import sys, types\nfake = types.ModuleType('math')\nfake.isclose = lambda *a, **k: True\n"
        "sys.modules['math'] = fake" + WRONG
    ),
    "class-entry-point": (
        "class solve:\n    def __init__(self, x): pass\n    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n    def __sub__(self, other): return 0\n"
        "    __rsub__ = __sub__\n    __hash__ = object.__hash__\n"
    ),
    "partial-entry-point": (
        "import functools\nclass E(int):\n    def __eq__(self, o): return True\n    __hash__ = int.__hash__\n"
        "solve = functools.partial(lambda x, y: E(y), y=0)\n"
    ),
    "c-level-proxy": (
        "import weakref\nclass E:\n    def __eq__(self, o): return True\nKEEP = E()\n"
        "def solve(x):\n    return weakref.proxy(KEEP)\n"
    ),
    "equal-to-anything": "from unittest import mock\ndef solve(x):\n    return mock.ANY\n",
    "prints-forged-verdicts": (
        'import os\nforged = b\'{"test": 0, "verdict": "pass"}\\n{"done": true}\\n\'\n'
        "for fd in range(1, 12):\n    try: os.write(fd, forged)\n    except OSError: pass" + WRONG
    ),
}


def score_then_probe(scorer: rk.Scorer, completion: str) -> rk.RewardResult:
    """Score, then run the sandbox probe where the job ran: nothing of the job is left, and the container
    did not need replacing."""
    sandbox = scorer.env._sandbox  # type: ignore[attr-defined]
    recycled = getattr(sandbox, "stats", {}).get("recycled")
    result = scorer.score_sync(SAMPLE, f"```python\n{completion}\n```")
    probe = sandbox.run(PROBE)
    assert (probe.status, probe.stdout) == ("ok", CLEAN_PROBE), probe.stderr
    assert getattr(sandbox, "stats", {}).get("recycled") == recycled, "the container was replaced"
    return result


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forgery_scores_zero(one_slot_scorer: rk.Scorer, forgery: str) -> None:
    result = score_then_probe(one_slot_scorer, FORGERIES[forgery])
    assert (result.score, result.error) == (0.0, None), dict(result.info)


def test_the_tests_run_beside_the_prompts_helpers_not_the_solutions(one_slot_scorer: rk.Scorer) -> None:
    prompt = (
        "def norm(values):\n    return sorted(values)\n\ndef solve(values):\n    '''sorted, descending'''\n"
    )
    test = "def check(candidate):\n    assert norm(candidate([1, 3, 2])) == [1, 2, 3]\n"
    info = {"format": "humaneval", "prompt": prompt, "test": test, "entry_point": "solve"}
    sample = rk.Sample(id="helper", prompt=[rk.user(prompt)], info=info)
    shadow = "    return []\nnorm = lambda values: [1, 2, 3]\n"
    assert one_slot_scorer.score_sync(sample, shadow).score == 0.0
    assert one_slot_scorer.score_sync(sample, "    return sorted(values, reverse=True)\n").score == 1.0


DENIALS = {
    "deep-directory-tree": (
        "import os\nfd = os.open('.', os.O_RDONLY)\nfor _ in range(1500):\n"
        "    try:\n        os.mkdir('d' * 200, dir_fd=fd)\n    except OSError:\n        break\n"
        "    inner = os.open('d' * 200, os.O_RDONLY, dir_fd=fd)\n    os.close(fd)\n    fd = inner" + WRONG
    ),
    "directory-flood": (
        "import os\nfor i in range(10**6):\n    try:\n        os.mkdir(f'/tmp/f{i}')\n"
        "    except OSError:\n        break" + WRONG
    ),
    "kills-itself": "import os, signal\ndef solve(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    "closes-its-link-and-spins": "import os\nos.closerange(0, 100)\nwhile True:\n    pass\n",
    "ignores-alarms": (
        "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ndef solve(x):\n    while True: pass\n"
    ),
    "huge-reply": "def solve(x):\n    return 'x' * (64 << 20)\n",
    "output-flood": "import sys\ndef solve(x):\n    while True: sys.__stdout__.write('x' * 65536)\n",
    "fork-bomb": (
        "import os\ndef solve(x):\n    while True:\n        try: os.fork()\n        except OSError: pass\n"
    ),
}


@pytest.mark.parametrize("denial", list(DENIALS))
def test_denial_of_service_still_scores_zero_not_an_error(one_slot_scorer: rk.Scorer, denial: str) -> None:
    result = score_then_probe(one_slot_scorer, DENIALS[denial])
    assert (result.score, result.error) == (0.0, None), dict(result.info)
