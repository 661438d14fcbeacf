"""Process singletons: built once under concurrency, one per argument, no re-entry, rebuilt after fork."""

from __future__ import annotations

import os
import threading
import time

import pytest

from rewardkit.singleton import process_singleton


def test_concurrent_first_calls_build_once():
    builds = []

    @process_singleton
    def slow() -> object:
        builds.append(1)
        time.sleep(0.2)
        return object()

    seen = []
    threads = [threading.Thread(target=lambda: seen.append(slow())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len({id(value) for value in seen}) == 1


def test_one_value_per_argument_and_reset_and_set():
    @process_singleton
    def named(name: str) -> list[str]:
        return [name]

    first = named("a")
    assert named("a") is first and named("b") == ["b"]
    named.reset()
    assert named("a") is not first
    named.set(["injected"], "a")
    assert named("a") == ["injected"]


def test_a_circular_use_during_the_build_is_an_error_not_a_hang():
    @process_singleton
    def circular() -> int:
        return circular() + 1

    with pytest.raises(RuntimeError, match="while building its value"):
        circular()


def test_values_that_do_not_survive_fork_are_rebuilt_in_the_child():
    @process_singleton(rebuild_after_fork=True)
    def pid_bound() -> int:
        return os.getpid()

    @process_singleton
    def shared() -> int:
        return os.getpid()

    parent = (pid_bound(), shared())
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports what it sees, then leaves without running pytest's teardown
        os.write(write, f"{pid_bound()} {shared()}".encode())
        os._exit(0)
    os.waitpid(child, 0)
    rebuilt, kept = map(int, os.read(read, 100).split())
    assert rebuilt == child and kept == parent[1]
