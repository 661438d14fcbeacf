"""Trainer commands registered through the register_commands hook (kept light: torch loads on use)."""

from __future__ import annotations

from typing import Any

import click

from rewardkit.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(train_command)


@click.command("train", context_settings={"ignore_unknown_options": False})
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1, metavar="[KEY.SUB=VALUE]...")
@click.option(
    "--resume", type=click.Path(exists=True), help="a run folder (latest checkpoint) or checkpoint-N"
)
@click.option("--check", is_flag=True, help="validate the config (and overrides) and print it; do not train")
def train_command(config: str, overrides: tuple[str, ...], resume: str | None, check: bool) -> None:
    """Train with GRPO on the environments of CONFIG (YAML): `rewardkit train configs/quickstart.yaml`."""
    from rewardkit.trainer.config import dump_config, load_config

    parsed = load_config(config, overrides)
    if check:
        click.echo(dump_config(parsed), nl=False)
        return
    from rewardkit.trainer import train

    result = train(parsed, resume=resume)
    if result.is_main_process:
        processes = f" on {result.num_processes} processes" if result.num_processes > 1 else ""
        click.echo(f"done: {result.step} steps{processes}; checkpoints and metrics.jsonl in {result.run_dir}")
