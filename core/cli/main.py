"""Entry point of the `rewardkit` command: core commands plus whatever plugins add via register_commands."""

from __future__ import annotations

import sys
from typing import Any

import click

from rewardkit import __version__
from rewardkit.cli import check, evaluate, listing, runs, scaffold, score, serve
from rewardkit.errors import RewardkitError
from rewardkit.host import get_host


class RewardkitGroup(click.Group):
    """The core commands plus the installed plugins' commands; expected errors (bad config, unknown names,
    bad input) become one line and exit status 2. A core command keeps its name over a plugin's."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or get_host().command(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *get_host().commands})

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RewardkitError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)


@click.group(cls=RewardkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rewardkit")
def cli() -> None:
    """Verifiable reward environments for RL on language models."""


for _module in (listing, score, check, scaffold, evaluate, runs, serve):
    _module.register(cli)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="rewardkit")
