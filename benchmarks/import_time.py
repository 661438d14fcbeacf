"""What `import rewardkit` costs, as a ratio to importing what it cannot avoid (asyncio, pluggy, pydantic
and the schema code of a first model), both in the same fresh interpreter, median over repeats.

    .venv/bin/python benchmarks/import_time.py [--repeats 7]

The goal is a light core: rewardkit's own modules well under its dependencies' cost, and no heavy library
(torch, transformers, sympy, docker, vllm, datasets, rich) imported at all.

Both sides load bytecode, as an installed wheel does: the dependencies come with theirs, and rewardkit's is
written once to a private cache before timing. Otherwise an environment with PYTHONDONTWRITEBYTECODE set
charges rewardkit, and only rewardkit, for compiling its source on every import, and the ratio grows with
the number of lines rather than with the work an import does. CPU time, not wall time, so that a busy
shared machine moves the figures less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HEAVY = ["torch", "transformers", "sympy", "docker", "vllm", "datasets", "rich"]
DEPENDENCIES = """
import asyncio, pluggy
from pydantic import BaseModel
class Probe(BaseModel):
    x: int = 0
"""
PROBE = (
    "import sys, time; t = time.process_time();"
    f"exec({DEPENDENCIES!r}); deps = time.process_time() - t;"
    "t = time.process_time(); import rewardkit; own = time.process_time() - t;"
    f"import json; print(json.dumps([deps, own, [m for m in {HEAVY!r} if m in sys.modules]]))"
)


def _probe(env: dict[str, str]) -> tuple[float, float, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env)
    deps, own, heavy = json.loads(out.stdout)
    return deps, own, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rewardkit-pycache-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        _probe(env)  # writes rewardkit's bytecode
        runs = [_probe(env) for _ in range(args.repeats)]
    ratio = statistics.median(own / deps for deps, own, _ in runs)
    deps_ms = statistics.median(deps for deps, _, _ in runs) * 1000
    own_ms = statistics.median(own for _, own, _ in runs) * 1000
    heavy = sorted({name for _, _, names in runs for name in names})
    print(f"dependencies: median {deps_ms:.0f} ms CPU over {args.repeats} fresh interpreters")
    print(f"rewardkit's own modules: median {own_ms:.0f} ms CPU = {ratio:.2f}x the dependencies")
    print(f"heavy libraries imported: {heavy or 'none'}")


if __name__ == "__main__":
    main()
