#!/usr/bin/env bash
# mypy maps modules to files by folder, so it cannot follow setup.py's folder -> package mapping
# (core/ -> rewardkit, plugins/ -> rewardkit.plugins, ...). It checks a tree of symlinks laid out like the
# installed package instead, and paths in its report are mapped back to the real folders.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/rewardkit"
for entry in core/*; do
  [ "$(basename "$entry")" = "__pycache__" ] || ln -s "$PWD/$entry" "$tree/rewardkit/$(basename "$entry")"
done
for folder in plugins sandbox trainer; do ln -s "$PWD/$folder" "$tree/rewardkit/$folder"; done
"${PYTHON:-.venv/bin/python}" -m mypy "$tree/rewardkit" "$@" \
  | sed -E -e "s#^$tree/rewardkit/(plugins|sandbox|trainer)/#\1/#" -e "s#^$tree/rewardkit/#core/#"
