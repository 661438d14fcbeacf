"""Trainer commands registered through the register_commands hook (kept light: torch loads on use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rewardkit.errors import ConfigError
from rewardkit.hookspecs import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(train_command)


@click.command("train", context_settings={"ignore_unknown_options": False})
@click.argument("config", required=False, metavar="[CONFIG]")
@click.argument("overrides", nargs=-1, metavar="[KEY.SUB=VALUE]...")
@click.option(
    "--resume",
    type=click.Path(exists=True),
    help="a run folder (its latest checkpoint) or checkpoint-N; without CONFIG, the config it was saved with",
)
@click.option(
    "--check",
    is_flag=True,
    help="validate the config: fields, environment names and configs, rubric rewards; print it; do not train",
)
def train_command(config: str | None, overrides: tuple[str, ...], resume: str | None, check: bool) -> None:
    """Train with GRPO on the environments of CONFIG (YAML): `rewardkit train configs/quickstart.yaml`.

    `rewardkit train --resume runs/NAME [KEY=VALUE]...` continues a run with the config it was saved with.
    """
    from rewardkit.trainer.config import dump_config, load_config

    path, overrides = _config_and_overrides(config, overrides, resume)
    parsed = load_config(path, overrides)
    if check:
        from rewardkit.trainer.envs import check_environments
        from rewardkit.trainer.tracking import check_logging

        check_environments(parsed.environments)
        check_logging(parsed.logging)
        click.echo(dump_config(parsed), nl=False)
        return
    from rewardkit.trainer import train
    from rewardkit.trainer.process import configure_process

    configure_process(parsed)  # the command owns its process; a library call changes nothing process-wide
    result = train(parsed, resume=resume)
    if result.is_main_process:
        processes = f" on {result.num_processes} processes" if result.num_processes > 1 else ""
        click.echo(f"done: {result.step} steps{processes}; checkpoints and metrics.jsonl in {result.run_dir}")


def _config_and_overrides(
    config: str | None, overrides: tuple[str, ...], resume: str | None
) -> tuple[str, tuple[str, ...]]:
    """CONFIG may be left out with --resume: the checkpoint's saved config is used, writing into the same
    run folder; the first KEY=VALUE then lands where CONFIG would be."""
    if config is not None and not (resume and "=" in config and not Path(config).exists()):
        return config, overrides
    if resume is None:
        raise ConfigError("train: give CONFIG (a YAML file), or --resume RUN_DIR to continue a saved run")
    from rewardkit.trainer.checkpoint import saved_config

    saved = saved_config(resume)
    run_dir = str(saved.parent.parent)
    return str(saved), (f"output_dir={run_dir}", *((config,) if config else ()), *overrides)
