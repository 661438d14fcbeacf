"""`key.sub=value` overrides from the command line, applied onto nested config dicts.

yaml is imported where a value or file is parsed: every `rewardkit` command imports this module, few parse.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rewardkit.errors import ConfigError


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=3` -> (["a", "b"], 3). Values are parsed as YAML, so `true`, `1e-3`, `[1, 2]` get their types."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"override {text!r}: expected key.sub=value, e.g. generation.max_new_tokens=64")
    import yaml

    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_overrides(config: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of `config` with each override applied; intermediate mappings are created as needed."""
    result = copy.deepcopy(dict(config))
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for depth, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError(
                    f"override {text!r}: {where} is {child!r}, not a mapping; cannot set {path[-1]}"
                )
            node = child
        node[path[-1]] = value
    return result


def load_config_file(path: str | Path, label: str = "config") -> dict[str, Any]:
    """A YAML config file's top-level mapping; a missing file, bad YAML or another top level is a
    one-line ConfigError naming `label` (the option that gave the path)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{label}: no such file {str(path)!r}")
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{label} {path}: invalid YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{label} {path}: expected a mapping at the top level, got {type(data).__name__}")
    return dict(data)
