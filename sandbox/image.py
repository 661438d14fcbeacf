"""The sandbox image: its content-hash tag, the missing-image error, and the two ways to build it.

The tag is derived from what the image must contain (recipe version + extra packages), not from how it
was built, so the Dockerfile build (registry reachable) and the offline debootstrap build (no registry)
satisfy the same environment config. The supervisor is not baked in: it arrives on the container's stdin.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError
from rewardkit.paths import cache_dir

RECIPE_VERSION = 1
REPOSITORY = "rewardkit-sandbox"
SUITE = "bookworm"
PYTHON_BASE = "python:3.11-slim-bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
Log = Callable[[str], None]


def image_tag(packages: Sequence[str] = ()) -> str:
    spec = {"recipe": RECIPE_VERSION, "suite": SUITE, "packages": sorted(set(packages))}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return f"{REPOSITORY}:{digest}"


def build_command(packages: Sequence[str] = ()) -> str:
    return "rewardkit sandbox build" + "".join(f" --package {p}" for p in sorted(set(packages)))


def docker_client(timeout: float) -> Any:
    """A client of the daemon DOCKER_HOST names (by default the local socket), checked with a ping;
    raises ConfigError saying how to get one when the SDK is missing or no daemon answers. Which other
    backend to choose instead is for the caller to say: it knows where that choice is made."""
    try:
        import docker
        import requests
    except ImportError:
        raise ConfigError("the docker sandbox needs the docker SDK: pip install 'rewardkit[code]'") from None
    try:
        client = docker.from_env(timeout=max(1, int(timeout)))
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as error:
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise ConfigError(
            f"the docker sandbox cannot reach a Docker daemon at {where} ({error}); start it "
            "(`systemctl start docker`, or `dockerd &` where there is no systemd)"
        ) from None
    return client


def ensure_image(client: Any, image: str | None, packages: Sequence[str] = ()) -> str:
    """The image to use; raises ConfigError naming the exact build command when it is missing."""
    import docker.errors

    tag = image or image_tag(packages)
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        hint = build_command(packages) if image is None else f"docker pull {tag}"
        raise ConfigError(f"sandbox image {tag} is missing; build it with:  {hint}") from None
    return tag


def build_image(
    client: Any, packages: Sequence[str] = (), method: str = "auto", log: Log = print, force: bool = False
) -> str:
    """Build (or find) the image for `packages`. method: auto | dockerfile | offline."""
    import docker.errors

    tag = image_tag(packages)
    if not force:
        try:
            client.images.get(tag)
            log(f"sandbox image {tag} already present")
            return tag
        except docker.errors.ImageNotFound:
            pass
    if method in ("auto", "dockerfile"):
        try:
            return _build_from_dockerfile(client, tag, packages, log)
        except Exception as error:
            if method == "dockerfile":
                raise
            log(f"Dockerfile build unavailable ({type(error).__name__}: {error}); building offline")
    return _build_offline(client, tag, packages, log)


def _build_from_dockerfile(client: Any, tag: str, packages: Sequence[str], log: Log) -> str:
    log(f"pulling {PYTHON_BASE}")
    client.images.pull(PYTHON_BASE)
    pip = f"RUN pip install --no-cache-dir {' '.join(sorted(packages))}\n" if packages else ""
    dockerfile = f"FROM {PYTHON_BASE}\n{pip}ENV PYTHONDONTWRITEBYTECODE=1\n"
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(dockerfile)
        log(f"docker build -t {tag} (from {PYTHON_BASE})")
        client.images.build(path=context, tag=tag, rm=True)
    return tag


def _build_offline(client: Any, tag: str, packages: Sequence[str], log: Log) -> str:
    tarball = _rootfs_tarball(packages, log)
    log(f"docker import {tarball} {tag}")
    repository, _, version = tag.partition(":")
    client.api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=version,
        changes=["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8"],
    )
    client.images.get(tag)
    return tag


def _rootfs_tarball(packages: Sequence[str], log: Log) -> Path:
    """debootstrap a minimal Debian with the full python3 stdlib; cached, so rebuilds take seconds."""
    debs = ["python3", *(_debian_name(p) for p in sorted(set(packages)))]
    key = hashlib.sha256(json.dumps([SUITE, debs]).encode()).hexdigest()[:12]
    cache = cache_dir("sandbox")
    tarball = cache / f"rootfs-{SUITE}-{key}.tar"
    if tarball.exists():
        log(f"using cached root filesystem {tarball}")
        return tarball
    if shutil.which("debootstrap") is None:
        raise ConfigError("offline sandbox build needs debootstrap: apt-get install -y debootstrap")
    cache.mkdir(parents=True, exist_ok=True)
    mirror = apt_mirror()
    with tempfile.TemporaryDirectory(dir=cache) as work:
        rootfs = Path(work, "rootfs")
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(debs)}",
            SUITE,
            str(rootfs),
            mirror,
        ]
        log(" ".join(command))
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)
    return tarball


def _debian_name(package: str) -> str:
    # Offline builds take Python packages from Debian: numpy -> python3-numpy.
    return package if package.startswith("python3-") else f"python3-{package.lower().replace('_', '-')}"


def apt_mirror() -> str:
    """The Debian mirror configured for apt on this machine (deb822 or one-line format)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri in re.findall(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return DEFAULT_MIRROR
