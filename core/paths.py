"""Where rewardkit keeps files between runs."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "REWARDKIT_CACHE"


def cache_dir(*parts: str) -> Path:
    """`$REWARDKIT_CACHE/<parts>`, or `~/.cache/rewardkit/<parts>`; read on each call, created by callers."""
    root = os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "rewardkit"
    return Path(root).joinpath(*parts)
