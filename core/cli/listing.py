"""`rewardkit plugins` and `rewardkit envs` (`rewardkit envs show NAME` is in env_show.py)."""

from __future__ import annotations

import json
from typing import Any

import click

from rewardkit.environment import Environment, EnvMetadata
from rewardkit.errors import PluginError, RewardkitError
from rewardkit.host import EnvEntry, PluginHost, get_host


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def plugins(as_json: bool) -> None:
    """Every installed plugin: distribution, version, what it registered, load errors."""
    host = get_host()
    host.resolve_all()  # a bad import path shows among its plugin's errors
    rows = [info.to_dict() for info in host.plugins.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table  # rich is slow to import, and only the tables need it

    table = Table(
        "plugin", "distribution", "version", "status", "registered", "errors", title="rewardkit plugins"
    )
    for row in rows:
        registered = [
            f"{kind}: {', '.join(row[kind])}"
            for kind in ("environments", "rewards", "sandboxes", "tools", "commands")
            if row[kind]
        ]
        table.add_row(
            row["name"],
            row["distribution"] or "-",
            row["version"] or "-",
            row["status"],
            "\n".join(registered) or "-",
            "\n".join(row["errors"]) or "-",
        )
    _print(table)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def envs(ctx: click.Context, as_json: bool) -> None:
    """Installed environments with their metadata and supplying plugin."""
    if ctx.invoked_subcommand is not None:
        return
    host = get_host()
    rows = []
    for name, entry in sorted(host.environments.items()):
        try:
            rows.append(env_row(host, name, entry))
        except PluginError as error:  # listed by `rewardkit plugins` too; the other environments still show
            click.echo(f"warning: {error}", err=True)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(
        "environment",
        "plugin",
        "distribution",
        "reward range",
        "needs",
        "description",
        title="rewardkit environments",
    )
    for row in rows:
        alias = f" (alias of {row['alias_of']})" if row["alias_of"] else ""
        table.add_row(
            row["name"] + alias,
            row["plugin"],
            f"{row['distribution']} {row['distribution_version']}",
            str(row["reward_range"]),
            ", ".join(row["needs"]) or "-",
            row["description"],
        )
    _print(table)


def _print(table: Any) -> None:
    from rich.console import Console

    Console(width=200).print(table)


def env_row(host: PluginHost, name: str, entry: EnvEntry) -> dict[str, Any]:
    info = host.plugins[entry.plugin]
    metadata = _metadata(entry.cls).to_dict()
    return {
        **metadata,
        "name": name,
        "alias_of": entry.cls.name if name != entry.cls.name else None,
        "class": f"{entry.cls.__module__}.{entry.cls.__qualname__}",
        "plugin": info.name,
        "distribution": info.distribution,
        "distribution_version": info.version,
    }


def _metadata(env_cls: type[Environment]) -> EnvMetadata:
    """Metadata of a default-configured instance; class-level values when the config has required fields."""
    try:
        return env_cls().metadata()
    except (RewardkitError, ValueError, TypeError):
        return env_cls.class_metadata()


def register(cli: click.Group) -> None:
    from rewardkit.cli.env_show import show

    envs.add_command(show)
    cli.add_command(plugins)
    cli.add_command(envs)
