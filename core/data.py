"""Loading records for environments: local JSONL/JSON/Parquet/CSV files or Hugging Face hub datasets.

Local JSONL streams without `datasets`; everything else goes through `datasets` (the `data` extra).
A column mapping renames source columns to the fields an environment expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from rewardkit.errors import ConfigError

FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


class DataSource(BaseModel):
    """Where an environment's records come from. Give exactly one of `path` and `hub`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    hub: str | None = None
    name: str | None = None
    split: str = "train"
    revision: str | None = None
    columns: dict[str, str] = {}
    limit: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of `path` (a local file) or `hub` (a Hugging Face dataset id)")
        return self

    def describe(self) -> str:
        return self.path or f"{self.hub}[{self.name or 'default'}:{self.split}]"


def iter_records(source: DataSource) -> Iterator[dict[str, Any]]:
    """Yield records as dicts with `source.columns` applied (our field name <- source column)."""
    local = Path(source.path) if source.path is not None else None
    rows = _local_jsonl(local) if local is not None and local.suffix == ".jsonl" else _with_datasets(source)
    for index, row in enumerate(rows):
        if source.limit is not None and index >= source.limit:
            return
        yield _map_columns(row, source, index)


def _local_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"data.path: no such file {str(path)!r}")
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigError(f"data.path: {path}:{line_number}: invalid JSON ({error.msg})") from None


def _with_datasets(source: DataSource) -> Iterator[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"data: loading {source.describe()} needs Hugging Face `datasets`; pip install 'rewardkit[data]'"
        ) from None
    if source.path is not None:
        suffix = Path(source.path).suffix
        if suffix not in FORMATS:
            raise ConfigError(f"data.path: unsupported file type {suffix!r}; use one of {sorted(FORMATS)}")
        if not Path(source.path).exists():
            raise ConfigError(f"data.path: no such file {source.path!r}")
        dataset = datasets.load_dataset(FORMATS[suffix], data_files=source.path, split="train")
    else:
        dataset = datasets.load_dataset(source.hub, source.name, split=source.split, revision=source.revision)
    yield from dataset


def _map_columns(row: Mapping[str, Any], source: DataSource, index: int) -> dict[str, Any]:
    record = dict(row)
    for field, column in source.columns.items():
        if column not in row:
            raise ConfigError(
                f"data.columns.{field}: column {column!r} is not in {source.describe()} "
                f"(record {index} has: {', '.join(sorted(row))})"
            )
        record[field] = row[column]
    return record
