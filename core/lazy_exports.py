"""Names a package exports without importing them until first use (PEP 562), so its import stays light."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` giving each name in `exports` ({name: module}) from its module, imported on
    first use. Pair it with the same imports under `if TYPE_CHECKING:` for type checkers."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            # Kept on the package, so later lookups are plain reads. An export must not share its name with a
            # submodule of the package: importing the submodule binds that name to the module.
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
