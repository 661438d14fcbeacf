"""`rewardkit serve [CONFIG] [--env NAME --set k=v ...]`: the HTTP reward server (docs/serve.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from rewardkit.cli.options import set_option
from rewardkit.errors import ConfigError
from rewardkit.overrides import apply_overrides, parse_override


@click.command("serve")
@click.argument("config_path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--env", "env_names", multiple=True, metavar="NAME", help="Serve this environment (repeatable)."
)
@set_option
@click.option(
    "--rubric",
    "rubric_items",
    multiple=True,
    metavar="NAME=WEIGHT",
    help="Score --env with a rubric (repeatable).",
)
@click.option("--host", help="Address to bind (default 127.0.0.1); anything else needs a bearer token.")
@click.option("--port", type=int, help="Port (default 8000; 0 picks a free one).")
@click.option(
    "--token-env", help="Environment variable holding the bearer token (default REWARDKIT_SERVE_TOKEN)."
)
@click.option("--max-items", type=int, help="Most completions in one request (default 4096).")
@click.option("--max-body-mb", type=float, help="Largest request body in MiB (default 64).")
@click.option("--request-timeout", type=float, help="Longest a request may take, in seconds (default 300).")
@click.option("--check", is_flag=True, help="Build and set up the environments, print the routes, and exit.")
def serve(
    config_path: Path | None,
    env_names: tuple[str, ...],
    overrides: tuple[str, ...],
    rubric_items: tuple[str, ...],
    check: bool,
    **server: Any,
) -> None:
    """Serve reward environments over HTTP: POST /v1/score, OpenRLHF's /openrlhf/<env>, NeMo Gym's
    /nemo_gym/<env>/verify, GET /v1/envs, /health and /metrics.

    CONFIG is a serve config or a training config (its environments are served); or name environments
    with --env. Ctrl-C or SIGTERM lets in-flight requests finish, then stops.
    """
    from rewardkit.serve.config import load_serve_config, parse_serve_config

    if config_path is not None and env_names:
        raise ConfigError("give a CONFIG file or --env names, not both")
    if config_path is not None:
        if overrides or rubric_items:
            raise ConfigError("--set and --rubric go with --env; put a config file's settings in the file")
        config = load_serve_config(config_path)
    elif env_names:
        config = parse_serve_config({"environments": _entries(env_names, overrides, rubric_items)})
    else:
        raise ConfigError("nothing to serve: give a CONFIG file or --env NAME (see `rewardkit envs`)")
    settings = config.server.model_copy(update={k: v for k, v in server.items() if v is not None})
    config = parse_serve_config({**config.model_dump(), "server": settings.model_dump()})
    _run(config, check)


def _entries(names: tuple[str, ...], overrides: tuple[str, ...], rubric_items: tuple[str, ...]) -> list[Any]:
    if len(names) > 1 and (overrides or rubric_items):
        raise ConfigError("--set and --rubric apply to one --env; serve several configured ones from a file")
    entries: list[dict[str, Any]] = [{"name": name} for name in names]
    if overrides:
        entries[0]["config"] = apply_overrides({}, overrides)
    if rubric_items:
        entries[0]["rubric"] = {".".join(parse_override(i)[0]): parse_override(i)[1] for i in rubric_items}
    return entries


def _run(config: Any, check: bool) -> None:
    import uvicorn

    from rewardkit.serve import build_served, create_app
    from rewardkit.serve.registry import close_served

    settings = config.server
    token = os.environ.get(settings.token_env) or None
    if token is None and not settings.loopback:
        raise ConfigError(
            f"--host {settings.host}: serving beyond this machine needs a bearer token; "
            f"export it in {settings.token_env} (or name another variable with --token-env)"
        )
    served = build_served(config)
    if check:
        close_served(served)
        base = f"http://{settings.host}:{settings.port}"
        click.echo(
            f"ok: would serve {', '.join(served)} at {base}/v1/score, "
            + ", ".join(f"{base}/openrlhf/{key} and {base}/nemo_gym/{key}/verify" for key in served)
        )
        return
    app = create_app(served, settings, token)
    click.echo(
        f"rewardkit serve: {', '.join(served)} on http://{settings.host}:{settings.port}"
        f"{' (bearer token required)' if token else ''}",
        err=True,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
    )


def register(cli: click.Group) -> None:
    cli.add_command(serve)
