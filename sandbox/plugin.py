"""Sandbox backends and the `rewardkit sandbox build` command, registered through plugin hooks.

Imports nothing heavy: each backend module (and docker) is imported only when a backend is created.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

import rewardkit

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True)
class LazyBackend:
    """A backend factory that imports its class ("module:Class") only when called. `Options` is the typed
    model of its options, which a code environment checks its `sandbox_options` against."""

    target: str
    options: str  # the name of its options model in rewardkit.sandbox.options, imported when asked for

    def __call__(self, **options: Any) -> Any:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)(**options)

    @property
    def Options(self) -> type[BaseModel]:  # the attribute any backend factory may carry (options_model)
        from rewardkit.sandbox import options

        model: type[BaseModel] = getattr(options, self.options)
        return model


BACKENDS = {
    "docker": LazyBackend("rewardkit.sandbox.docker_backend:DockerSandbox", "DockerOptions"),
    "bwrap": LazyBackend("rewardkit.sandbox.local_backends:BwrapSandbox", "LocalOptions"),
    "unsafe_local": LazyBackend("rewardkit.sandbox.local_backends:UnsafeLocalSandbox", "LocalOptions"),
    "sandboxfusion": LazyBackend(
        "rewardkit.sandbox.sandboxfusion:SandboxFusionSandbox", "SandboxFusionOptions"
    ),
}


@rewardkit.hookimpl
def register_sandboxes(register: Any) -> None:
    for name, factory in BACKENDS.items():
        register(name, factory)


@click.group("sandbox")
def sandbox_group() -> None:
    """The code-execution sandbox (Docker image)."""


@sandbox_group.command("build")
@click.option("--package", "packages", multiple=True, help="Extra Python package in the image (repeatable).")
@click.option(
    "--method",
    type=click.Choice(["auto", "dockerfile", "offline"]),
    default="auto",
    show_default=True,
    help="dockerfile: python slim base from a registry; offline: debootstrap + docker import.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the tagged image exists.")
def build(packages: tuple[str, ...], method: str, force: bool) -> None:
    """Build the sandbox image (tagged by content hash) and print its tag."""
    from rewardkit.sandbox.image import build_image, docker_client

    client = docker_client(timeout=600)
    tag = build_image(
        client, packages, method=method, force=force, log=lambda line: click.echo(line, err=True)
    )
    click.echo(tag)


@sandbox_group.command("tag")
@click.option("--package", "packages", multiple=True)
def tag(packages: tuple[str, ...]) -> None:
    """Print the image tag the given packages map to (no Docker needed)."""
    from rewardkit.sandbox.image import image_tag

    click.echo(image_tag(packages))


@rewardkit.hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(sandbox_group)
