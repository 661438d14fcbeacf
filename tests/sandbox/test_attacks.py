"""Every attack of corpora/sandbox_attacks.md §A-§C on every isolating backend, each followed by a probe
job in the same slot (no leftover processes or files, builtins intact, slot healthy). §D (reward hacks)
is tested on the code environment in tests/plugins/code/test_reward_hacks.py.
"""

from __future__ import annotations

import os
import time

import pytest

from rewardkit.sandbox import Sandbox
from rewardkit.sandbox.testing import CLEAN_PROBE, PROBE

# Every attack also leaves poison for the next job: a file in /tmp and cwd, and a builtin.
POISON = (
    "import builtins, os\nbuiltins.POISON = 1\n"
    "open('/tmp/poison.py', 'w').write('x'); open('leftover.txt', 'w').write('x')\n"
    "if os.path.isdir('/dev/shm'):\n    try: open('/dev/shm/x', 'w').write('x')\n    except OSError: pass\n"
)
MB = 1 << 20

# id -> (code, limits, {backend: allowed statuses} or a set for all, substring expected in stdout/stderr)
ATTACKS: dict[str, tuple[str, dict, object, bytes]] = {
    "A1-memory-over-limit": ("x = bytearray(10**8)", {"memory": 80 * MB}, {"memory"}, b"MemoryError"),
    "A2-memory-limit-raised": ("x = bytearray(10**8); print('ok')", {"memory": 400 * MB}, {"ok"}, b"ok"),
    "A3-cpu-burn": ("sum(range(2**31 - 1))", {"timeout": 1.0}, {"timeout"}, b""),
    "A4-sleep-past-wall": ("import time; time.sleep(3)", {"timeout": 0.5}, {"timeout"}, b""),
    "A6-endless-urandom": (
        "f = open('/dev/urandom', 'rb'); print(len(f.read(10)), flush=True); f.read()",
        {"timeout": 1.5, "memory": 128 * MB},
        {"memory", "timeout"},
        b"10",
    ),
    "A7-file-too-large": (
        "open('/tmp/big', 'wb').write(b'x' * (20 * 2**20))",
        {},
        {"error"},
        b"File too large",
    ),
    "A8-fill-tmp": (
        "for i in range(100):\n    open(f'/tmp/f{i}', 'wb').write(b'x' * 2**20)\nprint('filled')",
        {},
        {"docker": {"error"}, "bwrap": {"ok"}},  # bwrap 0.8 has no tmpfs size limit (documented gap)
        b"",
    ),
    "A9-fork-bomb": ("import os\nwhile True:\n    os.fork()", {"timeout": 2.0}, {"error", "timeout"}, b""),
    "A9b-daemon-survives?": (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        time.sleep(60)\n    os._exit(0)\nprint('parent done')",
        {},
        {"ok"},
        b"parent done",
    ),
    "A10-stdout-flood": ("while True: print('x' * 10**6)", {"output": MB}, {"output_limit"}, b"x"),
    "A11-import-torch": ("import torch", {}, {"error"}, b"ModuleNotFoundError"),
    "B1-write-root": ("open('/mydata.txt', 'w').write('x')", {}, {"error"}, b"Read-only file system"),
    "B1b-write-usr": ("open('/usr/lib/x', 'w').write('x')", {}, {"error"}, b"Error"),
    "B2-read-shadow": ("print(open('/etc/shadow').read())", {}, {"error"}, b"Error"),
    "B3-list-dirs": (
        "import os\nfor d in ['/tmp', '/home', '/root', '/var/lib/docker']:\n"
        "    try: print(d, os.listdir(d))\n    except OSError as e: print(d, type(e).__name__)",
        {},
        {"ok"},
        b"/var/lib/docker FileNotFoundError",
    ),
    "B6-http-by-name": (
        "import urllib.request; urllib.request.urlopen('http://example.com', timeout=2)",
        {},
        {"error"},
        b"URLError",
    ),
    "B7-raw-ip": (
        "import socket; socket.create_connection(('93.184.216.34', 80), timeout=2)",
        {},
        {"error"},
        b"OSError",
    ),
    "B8-https": (
        "import urllib.request; urllib.request.urlopen('https://www.sina.com.cn', timeout=2)",
        {},
        {"error"},
        b"URLError",
    ),
    "B9-loopback-server": (
        "import socket, threading\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "port = s.getsockname()[1]\n"
        "threading.Thread(target=lambda: s.accept()[0].sendall(b'hi'), daemon=True).start()\n"
        "c = socket.create_connection(('127.0.0.1', port)); print(c.recv(2))",
        {},
        {"ok"},
        b"b'hi'",
    ),
    "C1-segfault": ("import ctypes; ctypes.string_at(0)", {}, {"error"}, b""),
    "C2-frame-walk": (
        "import sys; f = sys._getframe(); print(f.f_back is None or 'walked')",
        {},
        {"ok"},
        b"",
    ),
    "C3-subclasses": ("print(len(().__class__.__base__.__subclasses__()) > 0)", {}, {"ok"}, b"True"),
    "C4-huge-range": ("x = list(range(10**10))", {"memory": 128 * MB}, {"memory"}, b"MemoryError"),
    "C5-guard-list": (
        "import os, shutil\nfor name, call in [('kill1', lambda: os.kill(1, 9)),"
        " ('setuid', lambda: os.setuid(0)),"
        " ('chroot', lambda: os.chroot('/')), ('rmtree', lambda: shutil.rmtree('/usr/lib/python3')),"
        " ('killall', lambda: os.kill(-1, 9))]:\n    try: call(); print(name, 'done')\n"
        "    except OSError as e: print(name, type(e).__name__)",
        {},
        {"ok"},
        b"chroot PermissionError",  # kill(1) is EPERM in docker; in bwrap it hits bwrap's own init
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_contained_and_slot_clean(sandbox: Sandbox, attack: str) -> None:
    code, limits, statuses, needle = ATTACKS[attack]
    allowed = statuses.get(sandbox.name, set()) if isinstance(statuses, dict) else statuses
    budget = limits.get("timeout", 10.0)
    started = time.monotonic()
    result = sandbox.run(POISON + code, **{"timeout": 10.0, "memory": 256 * MB, **limits})
    assert result.status in allowed, (result.status, result.stderr[-500:])
    assert time.monotonic() - started < budget + 5
    assert needle in result.stdout + result.stderr
    probe = sandbox.run(PROBE)
    assert probe.status == "ok", probe.stderr
    assert probe.stdout == CLEAN_PROBE


def test_two_runs_can_bind_the_same_port(sandbox: Sandbox) -> None:  # B10
    code = (
        "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 8765)); s.listen(); time.sleep(0.3)"
    )
    first = sandbox.run(code)
    assert first.status == "ok", first.stderr


def test_host_environment_variables_are_invisible(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDKIT_TEST_SECRET", "hunter2-secret")  # B5
    result = sandbox.run("import os; print(dict(os.environ)); print(open('/proc/1/environ').read())")
    assert b"hunter2-secret" not in result.stdout + result.stderr


def test_host_files_are_unreadable(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> None:
    secret = tmp_path_factory.mktemp("secret") / "token.txt"
    secret.write_text("top-secret-value")
    os.chmod(secret.parent, 0o755)
    result = sandbox.run(f"print(open({str(secret)!r}).read())")
    assert result.status == "error"
    assert b"top-secret-value" not in result.stdout
