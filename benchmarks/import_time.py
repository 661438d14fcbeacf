"""What `import rewardkit` costs, as a ratio to importing what it cannot avoid (asyncio, pluggy, pydantic
and the schema code of a first model), each timed in a fresh interpreter, alternated, median of repeats.

    .venv/bin/python benchmarks/import_time.py [--repeats 7]

The goal is a light core: rewardkit's own modules well under its dependencies' cost, and no heavy library
(torch, transformers, sympy, docker, vllm, datasets, rich) imported at all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

HEAVY = ["torch", "transformers", "sympy", "docker", "vllm", "datasets", "rich"]
DEPENDENCIES = """
import asyncio, pluggy
from pydantic import BaseModel
class Probe(BaseModel):
    x: int = 0
"""
PROBE = (
    "import sys, time; t = time.perf_counter();"
    f"exec({DEPENDENCIES!r}); deps = time.perf_counter() - t;"
    "t = time.perf_counter(); import rewardkit; own = time.perf_counter() - t;"
    f"import json; print(json.dumps([deps, own, [m for m in {HEAVY!r} if m in sys.modules]]))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    deps, own, heavy = [], [], set()
    for _ in range(args.repeats):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
        d, o, h = json.loads(out)
        deps.append(d)
        own.append(o)
        heavy.update(h)
    ratio = statistics.median(o / d for o, d in zip(own, deps, strict=True))
    deps_ms, own_ms = statistics.median(deps) * 1000, statistics.median(own) * 1000
    print(f"dependencies: median {deps_ms:.0f} ms over {args.repeats} fresh interpreters")
    print(f"rewardkit's own modules: median {own_ms:.0f} ms = {ratio:.2f}x the dependencies")
    print(f"heavy libraries imported: {sorted(heavy) or 'none'}")


if __name__ == "__main__":
    main()
