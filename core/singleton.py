"""Process-wide values built once, on first use: the one way rewardkit keeps a singleton.

    @process_singleton
    def math_pool() -> ProcessPool:
        return ProcessPool(workers=2, initializer=warm_up)

    @process_singleton
    def judge_for(settings_key: str) -> Judge:   # one value per distinct (hashable) argument
        ...

Safe to reach from any thread (the first caller builds, the others wait for it). A value holding threads,
pipes or child processes (`rebuild_after_fork=True`) is forgotten in a forked child, which builds its own:
those do not survive `fork`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
T = TypeVar("T")


class ProcessSingleton(Generic[P, T]):
    """Calls `factory` once per distinct argument tuple and returns that value from then on."""

    def __init__(self, factory: Callable[P, T], rebuild_after_fork: bool = False) -> None:
        self.factory = factory
        self.__name__ = getattr(factory, "__name__", "singleton")
        self.__doc__ = factory.__doc__
        self._values: dict[Any, T] = {}
        self._lock = threading.Lock()
        self._building: set[tuple[int, Any]] = set()  # (thread, key) pairs inside `factory` now
        if rebuild_after_fork:
            os.register_at_fork(after_in_child=self._forget_in_child)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        key = (args, tuple(sorted(kwargs.items())))
        value = self._values.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        me = (threading.get_ident(), key)
        if me in self._building:
            raise RuntimeError(
                f"{self.__name__}() was called again while building its value (a circular use at start-up)"
            )
        with self._lock:
            if key not in self._values:
                self._building.add(me)
                try:
                    self._values[key] = self.factory(*args, **kwargs)
                finally:
                    self._building.discard(me)
            return self._values[key]

    def reset(self) -> None:
        """Forget every value; the next call builds afresh (tests; after installing a plugin)."""
        with self._lock:
            self._values.clear()

    def set(self, value: T, *args: P.args, **kwargs: P.kwargs) -> None:
        """Install `value` as the one for these arguments (tests and notebooks inject their own)."""
        with self._lock:
            self._values[(args, tuple(sorted(kwargs.items())))] = value

    def _forget_in_child(self) -> None:
        # Another thread may have held the lock at the fork: the child gets a fresh one.
        self._lock = threading.Lock()
        self._values.clear()
        self._building.clear()


_MISSING = object()


@overload
def process_singleton(factory: Callable[P, T], /) -> ProcessSingleton[P, T]: ...


@overload
def process_singleton(
    *, rebuild_after_fork: bool = False
) -> Callable[[Callable[P, T]], ProcessSingleton[P, T]]: ...


def process_singleton(factory: Any = None, /, *, rebuild_after_fork: bool = False) -> Any:
    """Decorator: `factory`'s value is built on first use and kept for the process (see the module doc)."""

    def wrap(function: Callable[P, T]) -> ProcessSingleton[P, T]:
        return ProcessSingleton(function, rebuild_after_fork)

    return wrap(factory) if factory is not None else wrap
