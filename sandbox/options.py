"""Typed options of the bundled sandbox backends: what a code environment's `sandbox_options` holds.

A mistyped or out-of-range option is a ConfigError naming its path when the environment (or the backend)
is created, never an error deep inside a container start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from rewardkit.config import StrictModel
from rewardkit.errors import config_error

OptionsT = TypeVar("OptionsT", bound=BaseModel)


class PoolOptions(StrictModel):
    """A warm pool of slots: how many, how many up front, when one more starts, when one is replaced."""

    pool_size: int = Field(2, ge=1, description="the most slots running jobs at once")
    warm_slots: int | None = Field(
        None, ge=1, description="slots started up front (default: min(pool_size, cores))"
    )
    grow_after: float = Field(
        0.25, ge=0, description="seconds a job waits for a free slot before one more starts"
    )
    max_jobs: int = Field(500, ge=1, description="jobs after which a slot is replaced")
    retries: int = Field(1, ge=0, description="times a job is retried on a fresh slot after a sandbox error")
    acquire_timeout: float = Field(120.0, gt=0, description="seconds a job may wait for a free slot")


class ContainerOptions(StrictModel):
    """One sandbox container: its image and the limits of the whole container."""

    image: str | None = Field(
        None, description="image to run (default: the one `rewardkit sandbox build` makes)"
    )
    packages: tuple[str, ...] = Field((), description="extra Python packages of the default image")
    mode: Literal["fork", "exec"] = Field(
        "fork", description="fork: a pre-warmed interpreter; exec: python3 -I"
    )
    memory_mb: int = Field(1024, ge=64, description="memory of the container (all its processes)")
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(128, ge=16, description="processes the container may hold")
    tmpfs_mb: int = Field(64, ge=1, description="size of /tmp")
    api_timeout: float = Field(30.0, gt=0, description="seconds any one Docker API call may take")


class DockerOptions(PoolOptions, ContainerOptions):
    """Options of the `docker` backend: a warm pool of sandbox containers."""


class LocalOptions(StrictModel):
    """Options of the `bwrap` and `unsafe_local` backends."""

    python: str | None = Field(None, description="the Python interpreter that runs jobs")
    concurrency: int | None = Field(None, ge=1, description="jobs at once (default: CPU cores)")


class SandboxFusionOptions(StrictModel):
    """Options of the `sandboxfusion` backend (a code environment's `sandbox_options`)."""

    url: str = Field(description="the fleet's base URL, e.g. http://sandbox.internal:8080")
    concurrency: int = Field(16, ge=1, description="jobs in flight at once")
    retries: int = Field(2, ge=0, description="more attempts after a connection error, 5xx or SandboxError")
    backoff: float = Field(0.5, ge=0, description="seconds before the first retry; doubles each time")
    request_margin: float = Field(30.0, gt=0, description="seconds the HTTP request may take beyond the job")
    token_env: str | None = Field(
        None, description="environment variable holding a bearer token (the token never enters a config)"
    )


def validate_options(model: type[OptionsT], options: Mapping[str, Any], where: str) -> OptionsT:
    """`options` as `model`, or a ConfigError whose lines start with `where.field`."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as error:
        raise config_error(error, model, root=where) from None
