"""Starting a real `rewardkit serve` process on loopback, with the toy environments installed as a plugin."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).parent
STARTUP = 120.0  # importing the plugins and starting the math pool on a loaded machine


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_toys(root: Path) -> Path:
    """The toys as a plugin distribution on a folder the server process gets on its PYTHONPATH."""
    site = root / "site"
    site.mkdir(exist_ok=True)
    shutil.copy(HERE / "serve_toys.py", site / "serve_toys.py")
    info = site / "rewardkit_serve_toys-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rewardkit-serve-toys\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[rewardkit]\nserve_toys = serve_toys\n")
    return site


def start_server(root: Path, config: dict[str, Any], token: str | None = None, *args: str) -> Server:
    site = install_toys(root)
    path = root / "serve.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("REWARDKIT_SERVE_TOKEN", None)
    if token:
        env["REWARDKIT_SERVE_TOKEN"] = token
    log = root / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "rewardkit.cli", "serve", str(path), "--port", str(port), *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start in {STARTUP}s: {log.read_text()}")


CONFIG = {
    "environments": [
        {"name": "math"},
        {"name": "math", "key": "shaped", "rubric": {"math": 1.0, "format.think_answer": 0.5}},
        {"name": "toy.echo"},
        {"name": "toy.crash"},
        {"name": "toy.turns"},
    ],
    "server": {"max_items": 256, "max_body_mb": 1, "request_timeout": 30},
}
