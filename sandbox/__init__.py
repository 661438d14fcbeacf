"""Running untrusted code: the Sandbox interface and its backends.

Backends are registered through the `register_sandboxes` hook ("docker", "bwrap", "unsafe_local") and
created with `make_sandbox(name, **options)`. Importing this package does not import docker.
"""

from __future__ import annotations

from typing import Any

from rewardkit.sandbox.api import STATUSES, ExecResult, Job, Limits, Sandbox, Status


def make_sandbox(name: str = "docker", **options: Any) -> Sandbox:
    """Create the sandbox backend registered under `name` (any installed plugin may add backends)."""
    from rewardkit.host import get_host

    sandbox = get_host().sandbox(name).factory(**options)
    if not isinstance(sandbox, Sandbox):
        raise TypeError(f"sandbox backend {name!r} returned {type(sandbox).__name__}, not a Sandbox")
    return sandbox


__all__ = ["STATUSES", "ExecResult", "Job", "Limits", "Sandbox", "Status", "make_sandbox"]
