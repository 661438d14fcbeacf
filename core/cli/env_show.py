"""`rewardkit envs show NAME`: what an environment is, the rows it reads, its config fields, a few samples."""

from __future__ import annotations

import itertools
import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import click
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from rewardkit.environment import Environment
from rewardkit.errors import RewardkitError, _model_in
from rewardkit.host import get_host

DEFAULT_WIDTH = 40  # characters of a default value shown before it is cut


@click.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print metadata, row format and config JSON Schema.")
@click.option(
    "--samples", "n_samples", default=2, show_default=True, help="Example samples to show (0: none)."
)
def show(name: str, as_json: bool, n_samples: int) -> None:
    """Metadata, row fields, config fields and example samples of environment NAME."""
    from rewardkit.cli.listing import env_row

    host = get_host()
    entry = host.environment(name)
    row = env_row(host, name, entry)
    row["sample_format"] = entry.cls.sample_format.to_dict()
    samples, problem = example_samples(entry.cls, n_samples)
    if as_json:
        row["config_schema"] = entry.cls.Config.model_json_schema()
        row["samples"] = samples
        click.echo(json.dumps(row, indent=2, default=str))
        return
    click.echo("\n".join(_describe(entry.cls, row, samples, problem)))


def example_samples(env_cls: type[Environment], count: int) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `count` samples of the default-configured environment's first split, or why there are none."""
    if count <= 0:
        return [], None
    try:
        env = env_cls()
        split = env.metadata().splits[0]
        return [sample.to_dict() for sample in itertools.islice(env.dataset(split), count)], None
    except Exception as error:  # a hub dataset offline, a required config field: say so, show the rest
        text = str(error) if isinstance(error, RewardkitError) else f"{type(error).__name__}: {error}"
        return [], text.splitlines()[0] if text else type(error).__name__


def _describe(
    env_cls: type[Environment], row: dict[str, Any], samples: list[dict[str, Any]], problem: str | None
) -> Iterator[str]:
    alias = f" (alias of {row['alias_of']})" if row["alias_of"] else ""
    yield f"{row['name']}{alias}: {row['description']}"
    yield (
        f"  plugin {row['plugin']} ({row['distribution']} {row['distribution_version']}), "
        f"reward range {row['reward_range']}, splits {', '.join(row['splits'])}, "
        f"needs {', '.join(row['needs']) or 'nothing'}"
    )
    yield ""
    yield "Row fields (`rewardkit score` input rows; each sample must carry the required ones):"
    declared = [(path, kind, "", text) for path, kind, text in env_cls.sample_format.fields()]
    yield from _table([("completion", "required", "", "the text to score"), *declared])
    if not declared:
        yield "  (this environment declares no other fields)"
    if env_cls.sample_format.example is not None:
        yield f"  example row: {json.dumps(env_cls.sample_format.example, ensure_ascii=False)}"
    yield ""
    yield "Config fields (--set KEY=VALUE; `config:` of an environment in a train config):"
    fields = list(config_fields(env_cls.Config))
    yield from _table(fields) if fields else ["  (none)"]
    if samples or problem:
        yield ""
        yield (
            "Example samples (--json shows them whole):"
            if samples
            else f"Example samples: unavailable ({problem})"
        )
        for sample in samples:
            yield from _sample_lines(sample)
    yield ""
    yield f"Config JSON Schema: rewardkit envs show {row['name']} --json"


def _sample_lines(sample: dict[str, Any]) -> Iterator[str]:
    messages = sample["prompt"]
    shown = {"answer": sample["answer"], "info": sample["info"]}
    yield f"  {sample['id']}: " + _cut(json.dumps(shown, ensure_ascii=False, default=str), 200)
    if messages:
        last = messages[-1]
        of = f", the last of {len(messages)} messages" if len(messages) > 1 else ""
        yield f"    prompt ({last['role']}{of}): " + _cut(
            json.dumps(last["content"], ensure_ascii=False), 200
        )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def config_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(dotted name, type, default, description) of every field, nested models flattened."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        nested = _model_in(field.annotation)
        default = _default(field, nested is not None)
        yield path, type_name(field.annotation), default, field.description or ""
        if nested is not None:
            yield from config_fields(nested, f"{path}.")


def type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(json.dumps(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in args)
    if annotation is type(None):
        return "null"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(map(type_name, args))}]"
    if annotation is Ellipsis:
        return "..."
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any, is_model: bool) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if is_model and isinstance(value, BaseModel):
        return "(fields below)"
    if value is PydanticUndefined:
        return ""
    return _cut(
        json.dumps(value.model_dump() if isinstance(value, BaseModel) else value, default=str), DEFAULT_WIDTH
    )


def _table(rows: list[tuple[str, str, str, str]]) -> Iterator[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        yield "  " + "  ".join([*cells, row[3]]).rstrip()
