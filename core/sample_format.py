"""The sample fields an environment reads, declared once and checked wherever samples come from outside.

A row of `rewardkit score`, a column set handed to an adapter or a record of a custom dataset can use keys
an environment never reads (`gold` for `answer`, `info.tests` for `info.cases`); without a declaration such
a row scores `None`, indistinguishable from "does not apply". An environment declares what it reads as a
`SampleFormat`; the host checks samples against it and names the missing key, and `rewardkit envs show`
and the docs print it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rewardkit.types import Sample


@dataclass(frozen=True)
class SampleFormat:
    """Dotted paths into a sample (`answer`, `info.cases`) with what each holds.

    `required`: every path must be present and not null. `one_of`: alternatives (each a group of paths that
    must all be present); a sample must satisfy at least one. `optional`: read when present. `example`: a
    `rewardkit score` input row that fits, for the docs and `rewardkit envs show`.
    """

    required: Mapping[str, str] = field(default_factory=dict)
    one_of: tuple[Mapping[str, str], ...] = ()
    optional: Mapping[str, str] = field(default_factory=dict)
    example: Mapping[str, Any] | None = None

    @property
    def paths(self) -> set[str]:
        """Every declared path."""
        return {*self.required, *self.optional, *(path for group in self.one_of for path in group)}

    def problem(self, sample: Sample) -> str | None:
        """None when `sample` fits; otherwise one sentence naming what is missing and what is there."""
        missing = [path for path in self.required if _get(sample, path) is None]
        if missing:
            wanted = ", ".join(f"{path!r} ({self.required[path]})" for path in missing)
            return f"is missing {wanted}{_present(sample, missing)}"
        if self.one_of and not any(all(_get(sample, p) is not None for p in group) for group in self.one_of):
            options = "; ".join(" + ".join(group) for group in self.one_of)
            paths = [path for group in self.one_of for path in group]
            return f"needs one of: {options}{_present(sample, paths)}"
        return None

    def fields(self) -> list[tuple[str, str, str]]:
        """(path, "required" / "one of N" / "optional", description) per field, for listings and docs."""
        rows = [(path, "required", text) for path, text in self.required.items()]
        for number, group in enumerate(self.one_of, 1):
            rows += [(path, f"one of {number}", text) for path, text in group.items()]
        return rows + [(path, "optional", text) for path, text in self.optional.items()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "required": dict(self.required),
            "one_of": [dict(group) for group in self.one_of],
            "optional": dict(self.optional),
            "example": None if self.example is None else dict(self.example),
        }


def _get(sample: Sample, path: str) -> Any:
    head, _, rest = path.partition(".")
    value: Any = getattr(sample, head, None)
    for part in rest.split(".") if rest else ():
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _present(sample: Sample, wanted: list[str]) -> str:
    """What the sample has where nested paths were wanted (`info` keys), so a misspelt key is easy to spot."""
    parents = sorted({path.rpartition(".")[0] for path in wanted} - {""})
    found = []
    for parent in parents:
        value = _get(sample, parent)
        keys = ", ".join(sorted(map(str, value))) if isinstance(value, Mapping) and value else "nothing"
        found.append(f"{parent} has {keys}")
    return f" ({'; '.join(found)})" if found else ""
