#!/usr/bin/env bash
# Set up Docker for rewardkit's code sandbox: install docker.io + debootstrap + bubblewrap if missing, start
# dockerd if it is not running, wait for it (<= 60 s), build the sandbox image if absent. Idempotent: a
# second run only checks and prints. Run as root (CI) or with sudo.  Usage: scripts/docker-setup.sh
set -euo pipefail
PY="${REWARDKIT_PYTHON:-$(dirname "$0")/../.venv/bin/python}"
[ -x "$PY" ] || PY=python3
say() { echo "[docker-setup] $*"; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v bwrap >/dev/null || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
else
  say "docker.io, debootstrap, bubblewrap already installed"
fi

if docker info >/dev/null 2>&1; then
  say "dockerd already running"
else
  say "starting dockerd (log: /tmp/dockerd.log)"
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { say "dockerd did not come up in 60 s; see /tmp/dockerd.log"; tail -20 /tmp/dockerd.log; exit 1; }
  say "dockerd is up"
fi

# Extra image packages may be passed as arguments: scripts/docker-setup.sh --package numpy
tag="$("$PY" -c 'import sys; from rewardkit.cli.main import main; main(["sandbox", "tag", *sys.argv[1:]])' "$@")"
if docker image inspect "$tag" >/dev/null 2>&1; then
  say "sandbox image $tag already built"
else
  say "building sandbox image $tag (the first offline build runs debootstrap; its root filesystem is cached)"
  "$PY" -c 'import sys; from rewardkit.cli.main import main; main(["sandbox", "build", *sys.argv[1:]])' "$@"
fi
