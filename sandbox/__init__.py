"""Running untrusted code: the Sandbox interface and its backends.

Backends are registered through the `register_sandboxes` hook ("docker", "bwrap", "unsafe_local") and
created with `make_sandbox(name, **options)`. Importing this package does not import docker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rewardkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pydantic import BaseModel

    from rewardkit.sandbox.api import STATUSES, ExecResult, Job, Judge, Limits, Sandbox, Status

# Loading the sandbox plugin imports this package in every `rewardkit` process: the API loads when used.
__getattr__ = lazy_exports(
    __name__,
    dict.fromkeys(
        ["STATUSES", "ExecResult", "Job", "Judge", "Limits", "Sandbox", "Status"], f"{__name__}.api"
    ),
)


def make_sandbox(name: str = "docker", **options: Any) -> Sandbox:
    """Create the sandbox backend registered under `name` (any installed plugin may add backends)."""
    from rewardkit.host import get_host
    from rewardkit.sandbox.api import Sandbox

    sandbox = get_host().sandbox(name).factory(**options)
    if not isinstance(sandbox, Sandbox):
        raise TypeError(f"sandbox backend {name!r} returned {type(sandbox).__name__}, not a Sandbox")
    return sandbox


def options_model(name: str) -> type[BaseModel] | None:
    """The typed options model of backend `name`: the `Options` attribute of its registered factory, if
    it has one (a plugin's own backend may declare one the same way)."""
    from pydantic import BaseModel

    from rewardkit.host import get_host

    model = getattr(get_host().sandbox(name).factory, "Options", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


__all__ = [
    "STATUSES",
    "ExecResult",
    "Job",
    "Judge",
    "Limits",
    "Sandbox",
    "Status",
    "make_sandbox",
    "options_model",
]
