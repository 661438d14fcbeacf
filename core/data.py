"""Loading records for environments: local JSONL/JSON/Parquet/CSV files or Hugging Face hub datasets.

Local JSONL streams without `datasets`; everything else goes through `datasets` (the `data` extra).
A column mapping renames source columns to the fields an environment expects.

Splits: a hub dataset has its own. A local `path` is one split, `split` (default `train`), so that training
rows never silently double as test rows; a mapping `path: {train: a.jsonl, test: b.jsonl}` gives one file
per split. Asking a source for a split it does not have is an error that says how to add it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from rewardkit.config import StrictModel
from rewardkit.errors import ConfigError

FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


class DataSource(StrictModel):
    """Where an environment's records come from. Give exactly one of `path` and `hub`."""

    path: str | dict[str, str] | None = Field(
        None, description="a local file (the `split` split), or {split name: file} for several splits"
    )
    hub: str | None = Field(None, description="a Hugging Face dataset id, e.g. openai/gsm8k")
    name: str | None = Field(None, description="the hub dataset's configuration, e.g. main")
    split: str = Field("train", description="the hub split to read, or the split a single local file is")
    revision: str | None = Field(None, description="a hub revision (commit, tag, branch) to pin")
    columns: dict[str, str] = Field({}, description="{field the environment reads: column in the data}")
    limit: int | None = Field(None, description="read at most this many records")

    @model_validator(mode="after")
    def _one_source(self) -> DataSource:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of `path` (a local file) or `hub` (a Hugging Face dataset id)")
        return self

    def describe(self) -> str:
        if isinstance(self.path, str):
            return self.path
        return f"{self.hub}[{self.name or 'default'}:{self.split}]"

    def for_split(self, split: str) -> DataSource:
        """This source narrowed to `split`: the hub split, or the local file that is that split."""
        if self.hub is not None:
            return self.model_copy(update={"split": split})
        if isinstance(self.path, dict):
            if split not in self.path:
                raise ConfigError(
                    f"data.path: no file for the {split!r} split (files are given for "
                    f"{', '.join(map(repr, self.path))}); add one: data.path.{split}=FILE"
                )
            return self.model_copy(update={"path": self.path[split], "split": split})
        if split != self.split:
            raise ConfigError(
                f"data.path: {self.path} is the {self.split!r} split and the {split!r} split was asked for; "
                f"give each split its own file (data.path: {{{self.split}: {self.path}, {split}: FILE}}), "
                f"or set data.split={split} to use this file as the {split!r} split"
            )
        return self


def iter_records(
    source: DataSource, split: str | None = None, required: Sequence[str] = ()
) -> Iterator[dict[str, Any]]:
    """Yield records as dicts with `source.columns` applied (our field name <- source column).

    `split`: the split wanted (see `DataSource.for_split`); None reads the source as it is. `required`:
    fields every record must have after the mapping; a missing one names the columns that are there.
    """
    source = source.for_split(split) if split is not None else source
    if isinstance(source.path, dict):
        raise ConfigError("data.path: a mapping of split files needs a split to read; this reader gave none")
    local = Path(source.path) if source.path is not None else None
    rows = _local_jsonl(local) if local is not None and local.suffix == ".jsonl" else _with_datasets(source)
    for index, row in enumerate(rows):
        if source.limit is not None and index >= source.limit:
            return
        record = _map_columns(row, source, index)
        _check_required(record, required, source, index)
        yield record


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
    if isinstance(source.path, str):
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


def _check_required(
    record: Mapping[str, Any], required: Sequence[str], source: DataSource, index: int
) -> None:
    for field in required:
        if field not in record:
            raise ConfigError(
                f"data: record {index} of {source.describe()} has no {field!r} column (it has: "
                f"{', '.join(sorted(record))}); map a column to it with data.columns.{field}=COLUMN"
            )
