"""`rewardkit check NAME`: run the plugin contract on an installed environment."""

from __future__ import annotations

import sys

import click

from rewardkit.cli.options import build_environment, set_option


@click.command()
@click.argument("name")
@set_option
@click.option("--split", default=None, help="Dataset split to check (default: the first declared split).")
@click.option(
    "--samples", "n_samples", default=4, show_default=True, help="Samples scored with the gold answer."
)
@click.option("--timeout", type=float, default=None, help="Per-sample scoring deadline in seconds.")
def check(
    name: str, overrides: tuple[str, ...], split: str | None, n_samples: int, timeout: float | None
) -> None:
    """Run the environment contract (dataset, gold answer, adversarial inputs, determinism) on NAME."""
    from rewardkit.testing.contract import check_environment  # not imported by the other commands

    env = build_environment(name, overrides)
    report = check_environment(env, split=split, n_samples=n_samples, timeout=timeout, raise_on_failure=False)
    click.echo(report.summary())
    if not report.passed:
        click.echo(f"{len(report.failures)} contract check(s) failed for {name!r}", err=True)
        sys.exit(1)


def register(cli: click.Group) -> None:
    cli.add_command(check)
