"""`rewardkit new NAME`: scaffold a third-party environment plugin package."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

import click

from rewardkit.errors import ConfigError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def scaffold(name: str, parent: Path, multi_turn: bool = False) -> Path:
    """Write `rewardkit-NAME/` under `parent` and return its path (`multi_turn`: an episode environment
    with a tool, feedback and per-episode state, instead of a single-turn one)."""
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            f"plugin name {name!r}: use lowercase letters, digits and '_', starting with a letter"
        )
    dist = f"rewardkit-{name.replace('_', '-')}"
    root = parent / dist
    if root.exists():
        raise ConfigError(f"{root} already exists; choose another name or remove it")
    module = f"rewardkit_{name}"
    values = {
        "name": name,
        "dist": dist,
        "module": module,
        "cls": "".join(part.capitalize() for part in name.split("_")) + "Env",
    }
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"{module}/__init__.py": "episode_module.py.tmpl" if multi_turn else "module.py.tmpl",
        "tests/test_contract.py": "test_contract.py.tmpl",
    }
    templates = resources.files("rewardkit.cli") / "templates"
    for target, template in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((templates / template).read_text()).substitute(values))
    return root


@click.command()
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Where to create the package folder.",
)
@click.option(
    "--multi-turn",
    is_flag=True,
    help="An episode environment (tools, feedback, per-episode state) instead of a single-turn one.",
)
def new(name: str, parent: Path, multi_turn: bool) -> None:
    """Scaffold `rewardkit-NAME/`: pyproject with the entry point, an environment, a contract test, README."""
    root = scaffold(name, parent, multi_turn)
    click.echo(f"created {root}\nnext: pip install -e {root} && pytest {root}/tests")


def register(cli: click.Group) -> None:
    cli.add_command(new)
