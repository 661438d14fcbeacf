"""The untimed bytecode step of the whole-process benchmarks.

Site-packages (the peers' included) got their .pyc files when pip installed them, but an editable
checkout only gets them where Python may write them: under PYTHONDONTWRITEBYTECODE every timed run
would compile rewardkit's sources again, which no installed user pays.
"""

from __future__ import annotations

import compileall
import functools
from pathlib import Path

import rewardkit


@functools.cache  # once per benchmark process, however many timed runs call it
def compile_sources() -> None:
    """Write .pyc files for rewardkit as it is imported (as `pip install` does); an editable install
    imports from its own tree of links, so that tree is where the bytecode must go."""
    compileall.compile_dir(Path(rewardkit.__file__).parent, quiet=1)
