"""The typed config of `rewardkit serve`: which environments, and the server's limits.

A serve config is YAML with `environments` (entries as in a training config: name, config, rubric,
score_timeout) and an optional `server` section. A training config can be served as it is: its
`environments` are read and the rest is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from rewardkit.config import StrictModel as Strict
from rewardkit.errors import ConfigError, config_error
from rewardkit.overrides import apply_overrides, load_config_file

TOKEN_ENV = "REWARDKIT_SERVE_TOKEN"
# Keys of an environment entry that only a trainer reads: accepted (and ignored) so that a training config
# can be served as it is.
TRAINER_ONLY = ("weight", "split", "max_samples")


class ServedEnvironment(Strict):
    name: str = Field(description="an installed environment (see `rewardkit envs`)")
    key: str | None = Field(None, description="the name requests use; default: the environment's name")
    config: dict[str, Any] = {}
    rubric: dict[str, float | dict[str, Any]] | None = Field(
        None, description="reward weights, e.g. {math.accuracy: 1.0, format.think_answer: 0.2}"
    )
    score_timeout: float | None = Field(None, gt=0.0, description="per-sample deadline in seconds")
    concurrency: int = Field(16, gt=0, description="samples of this environment scored at once")

    @property
    def served_as(self) -> str:
        return self.key or self.name


class ServerSettings(Strict):
    host: str = Field("127.0.0.1", description="address to bind; anything but loopback needs a token")
    port: int = Field(8000, ge=0, le=65535)
    token_env: str = Field(
        TOKEN_ENV,
        description="environment variable holding the bearer token (the token never enters a config)",
    )
    max_body_mb: float = Field(64.0, gt=0, description="largest request body, in MiB")
    max_items: int = Field(4096, gt=0, description="most items (completions) in one request")
    max_completion_chars: int = Field(1 << 20, gt=0, description="longest completion accepted, in characters")
    request_timeout: float = Field(
        300.0, gt=0, description="longest a request may take (a request may ask less)"
    )
    shutdown_grace: float = Field(
        60.0, ge=0, description="seconds a stopping server lets in-flight requests finish"
    )
    max_scan: int = Field(100_000, gt=0, description="samples read to find one by id (`sample_id`)")

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


class ServeConfig(Strict):
    environments: list[ServedEnvironment] = Field(min_length=1)
    server: ServerSettings = ServerSettings()


def parse_serve_config(data: Mapping[str, Any], overrides: Iterable[str] = ()) -> ServeConfig:
    values = apply_overrides(data, overrides)
    if "model" in values:  # a training config: serve its environments
        values = {"environments": [_served_entry(e) for e in values.get("environments") or []]}
    try:
        config = ServeConfig.model_validate(values)
    except ValidationError as error:
        raise config_error(error, ServeConfig) from None
    keys = [env.served_as for env in config.environments]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ConfigError(f"environments: {', '.join(repeated)} served twice; give each entry its own `key`")
    return config


def load_serve_config(path: str | Path, overrides: Iterable[str] = ()) -> ServeConfig:
    return parse_serve_config(load_config_file(path), overrides)


def _served_entry(entry: Any) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    return {key: value for key, value in entry.items() if key not in TRAINER_ONLY}
