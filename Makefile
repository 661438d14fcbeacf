# The two entry points on a fresh machine are `make quickstart` (main job) and `make test` (the CI command).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup quickstart test lint typecheck pytest docker browser bench clean

setup:
	@scripts/setup.sh

quickstart: setup
	$(BIN)/rewardkit train configs/quickstart.yaml

# Docker is installed and started when possible; where it must be (CI sets REWARDKIT_REQUIRE_DOCKER=1),
# a failure stops the run, elsewhere the Docker tests skip with their reason.
docker:
	@if [ -x scripts/docker-setup.sh ]; then \
	  if [ "$${REWARDKIT_REQUIRE_DOCKER:-0}" = 1 ]; then scripts/docker-setup.sh; \
	  else scripts/docker-setup.sh || echo "docker: setup failed; Docker tests will skip"; fi; \
	fi

# Chromium for the test of `rewardkit view` in a real browser; required where CI sets REWARDKIT_REQUIRE_BROWSER=1.
browser:
	@if [ "$${REWARDKIT_REQUIRE_BROWSER:-0}" = 1 ]; then scripts/browser-setup.sh; \
	else scripts/browser-setup.sh || echo "browser: setup failed; the browser test will skip"; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/python -m mypy -p rewardkit

pytest: setup
	$(BIN)/python -m pytest

test: setup lint typecheck docker browser pytest

bench: setup
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .venv/.rewardkit-setup-*  # setup re-creates build/'s editable links
