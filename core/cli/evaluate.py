"""`rewardkit eval ENV [ENV ...] --model M --output DIR`: pass@k of a model, with every rollout kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rewardkit.cli.progress import RunProgress
from rewardkit.errors import ConfigError
from rewardkit.overrides import apply_overrides, parse_override


def _json_option(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise ConfigError(f"{name}: not valid JSON ({error})") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"{name}: expected a JSON object, got {type(parsed).__name__}")
    return parsed


@click.command("eval")
@click.argument("env_names", nargs=-1, metavar="[ENV]...")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A YAML eval config (environments with their config and rubric); options below override it.",
)
@click.option("-m", "--model", help="The endpoint's model name, or a local directory / tiny:// model.")
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="The run folder to write."
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Complete a killed or interrupted run in this folder (redoes errored rollouts).",
)
@click.option("-b", "--base-url", help="An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
@click.option("-k", "--api-key-env", help="The environment variable holding the endpoint's API key.")
@click.option(
    "--backend",
    type=click.Choice(["openai", "vllm", "transformers"]),
    help="Default: openai with --base-url, else transformers (in this process).",
)
@click.option("-n", "--num-prompts", type=int, help="The first N prompts of each split (default: all).")
@click.option("-r", "--rollouts", type=int, help="Rollouts per prompt (default 1).")
@click.option("--split", help="Default: test where the environment has it, else its first split.")
@click.option("-t", "--temperature", type=float)
@click.option("--top-p", type=float)
@click.option("--top-k", type=int)
@click.option("--max-tokens", type=int, help="Most new tokens per reply (default 512).")
@click.option("--seed", type=int)
@click.option("--stop", multiple=True, help="A string that ends a reply (repeatable).")
@click.option(
    "-S", "--sampling-args", help="More request fields for the endpoint, as JSON: '{\"min_p\": 0.05}'."
)
@click.option("--system-prompt", help="Replaces (or adds) each prompt's system message.")
@click.option("--chat-template-kwargs", help="As JSON, e.g. '{\"enable_thinking\": false}'.")
@click.option("--max-turns", type=int, help="Episode environments: at most this many replies per episode.")
@click.option(
    "--tool-format", help="How a local model's tool calls are read: auto (default), hermes or plain."
)
@click.option("-c", "--max-concurrency", type=int, help="Endpoint requests in flight (default 32).")
@click.option("--batch-size", type=int, help="Local backends: replies per batch (default 64).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a config field of the (single) environment, e.g. --set grading.rel_tol=1e-6.",
)
@click.option(
    "--rubric",
    "rubric_items",
    multiple=True,
    metavar="NAME=WEIGHT",
    help="Score the (single) environment with a rubric, e.g. --rubric math.accuracy=1.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where scoring runs (default local; ray: a Ray cluster).",
)
@click.option("--ray-address", help="A Ray cluster to join (default: a running one, or a local one).")
@click.option("--ray-actors", type=int, help="Scoring actors (default: the cluster's CPUs).")
@click.option("--pass-threshold", type=float, help="A rollout passes at this score (default: top of range).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def eval_command(
    env_names: tuple[str, ...],
    config_path: Path | None,
    output: Path | None,
    resume: Path | None,
    progress: bool | None,
    **options: Any,
) -> None:
    """Evaluate a model on environments ENV...: pass@k, maj@k, scores, and every rollout in DIR.

    \b
    rewardkit eval math.procedural -n 50 -r 8 --model Qwen/Qwen2.5-0.5B-Instruct \\
        --base-url http://127.0.0.1:8000/v1 --output runs/eval-math
    rewardkit eval --resume runs/eval-math      # complete a killed run
    rewardkit view runs/eval-math               # browse the rollouts in a static HTML page
    """
    from rewardkit.evaluation.run import evaluate

    if resume is not None:
        config, output = _resume_config(resume, env_names, config_path, output, options), resume
    else:
        if output is None:
            raise ConfigError("--output DIR is required (the run folder to write)")
        config = _config(env_names, config_path, options)
    display = RunProgress(enabled=progress)
    with display:
        metadata = evaluate(
            config, output, resume=resume is not None, on_start=display.start, on_record=display.record
        )
    display.summary(metadata, output)
    if metadata["status"] == "interrupted":
        sys.exit(130)  # what a shell expects of a command stopped by Ctrl-C


# What may change when a run is resumed: where the model is served and how hard to push it, not what it
# generates or how it is scored.
RESUME_OPTIONS = frozenset(
    {"base_url", "api_key_env", "max_concurrency", "batch_size", "executor", "ray_address", "ray_actors"}
)


def _resume_config(
    run: Path,
    env_names: tuple[str, ...],
    config_path: Path | None,
    output: Path | None,
    options: dict[str, Any],
) -> Any:
    from rewardkit.evaluation.config import parse_eval_config
    from rewardkit.evaluation.run import resume_config

    fixed = sorted(
        name for name, value in options.items() if value not in (None, ()) and name not in RESUME_OPTIONS
    )
    if env_names or config_path or output or fixed:
        given = ", ".join("--" + name.replace("_", "-") for name in fixed) or "ENV/--config/--output"
        raise ConfigError(
            f"--resume continues the run with its own config; {given} cannot change "
            "(only --base-url, --api-key-env, --max-concurrency, --batch-size and the --executor options can)"
        )
    config = resume_config(run)
    return parse_eval_config(config.model_dump(mode="json"), _overrides(options))


def _config(env_names: tuple[str, ...], config_path: Path | None, options: dict[str, Any]) -> Any:
    from rewardkit.evaluation.config import load_eval_config, parse_eval_config

    base: dict[str, Any] = {}
    if config_path is not None:
        base = load_eval_config(config_path).model_dump(exclude_unset=True)
    if env_names:
        if base.get("environments"):
            raise ConfigError("give environments either as ENV arguments or in --config, not both")
        base["environments"] = [{"name": name} for name in env_names]
    if not base.get("environments"):
        raise ConfigError("name at least one environment: rewardkit eval ENV --model M --output DIR")
    _single_env_options(base, options)
    return parse_eval_config(base, _overrides(options))


def _single_env_options(base: dict[str, Any], options: dict[str, Any]) -> None:
    overrides, rubric = options.pop("overrides"), options.pop("rubric_items")
    threshold = options.pop("pass_threshold")
    if not (overrides or rubric or threshold is not None):
        return
    if len(base["environments"]) != 1:
        raise ConfigError(
            "--set, --rubric and --pass-threshold apply to one environment; with several, "
            "write them in a --config file"
        )
    env = base["environments"][0]
    env["config"] = apply_overrides(env.get("config", {}), overrides)
    if rubric:
        env["rubric"] = {".".join(path): weight for path, weight in map(parse_override, rubric)}
    if threshold is not None:
        env["pass_threshold"] = threshold


OPTION_FIELDS = {
    "model": "model",
    "backend": "backend",
    "num_prompts": "num_prompts",
    "rollouts": "rollouts",
    "split": "split",
    "system_prompt": "system_prompt",
    "base_url": "endpoint.base_url",
    "api_key_env": "endpoint.api_key_env",
    "max_concurrency": "endpoint.max_concurrency",
    "batch_size": "local.batch_size",
    "temperature": "sampling.temperature",
    "top_p": "sampling.top_p",
    "top_k": "sampling.top_k",
    "max_tokens": "sampling.max_tokens",
    "seed": "sampling.seed",
    "max_turns": "episodes.max_turns",
    "tool_format": "episodes.tool_format",
    "executor": "scoring.executor",
    "ray_address": "scoring.ray_address",
    "ray_actors": "scoring.ray_actors",
}


def _overrides(options: dict[str, Any]) -> list[str]:
    """Options given on the command line, as `key.sub=value` overrides of the config."""
    out = [
        f"{field}={json.dumps(options[name])}"
        for name, field in OPTION_FIELDS.items()
        if options.get(name) is not None
    ]
    if options.get("stop"):
        out.append(f"sampling.stop={json.dumps(list(options['stop']))}")
    for name, field in (
        ("sampling_args", "sampling.extra"),
        ("chat_template_kwargs", "chat_template_kwargs"),
    ):
        parsed = _json_option(options.get(name), f"--{name.replace('_', '-')}")
        if parsed is not None:
            out.append(f"{field}={json.dumps(parsed)}")
    return out


def register(cli: click.Group) -> None:
    cli.add_command(eval_command)
