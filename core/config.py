"""The one strict pydantic base of every rewardkit config: core's, the bundled plugins' and the trainer's."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys are errors (a typo must never fall back to a default) and values are frozen.

    Derive nested config sections from it; an environment's own config derives from `EnvConfig`, which is
    one of these.
    """

    # Schemas are built on first use, not at import: each command validates a few of the many sections
    # (benchmarks/import_time.py, benchmarks/math_speed.py time the whole process).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
