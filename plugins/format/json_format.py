"""`format.json`: the completion (or its fenced block) is valid JSON, optionally valid against a schema."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, Literal

from rewardkit import RewardResult

Fence = Literal["allow", "require", "forbid"]
FENCE_OPEN = "```"


def json_format(
    sample: Any,
    completion: str,
    schema: Mapping[str, Any] | None = None,
    fence: Fence = "allow",
    partial_credit: float = 0.0,
) -> RewardResult:
    """1.0 for valid JSON that satisfies `schema` (when given), else 0.0.

    fence="allow" accepts bare JSON or one fenced block (```json … ```); "require" accepts only the fenced
    block; "forbid" only bare JSON. `partial_credit` is the score of valid JSON that fails the schema.
    """
    text, fenced = _payload(completion)
    if (fence == "require" and not fenced) or (fence == "forbid" and fenced):
        return RewardResult(0.0, {"json": 0.0}, info={"reason": f"fence={fence}"})
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: adversarially deep nesting
        return RewardResult(0.0, {"json": 0.0})
    if schema is None:
        return RewardResult(1.0, {"json": 1.0})
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except Exception as error:  # a broken schema is a configuration problem, not the model's fault
        return RewardResult.failure(f"format.json: invalid schema: {error}")
    errors = [e.message for e in validator.iter_errors(value)][:3]
    score = 1.0 if not errors else float(partial_credit)
    return RewardResult(score, {"json": 1.0, "schema": float(not errors)}, info={"schema_errors": errors})


def _payload(completion: str) -> tuple[str, bool]:
    """The JSON text: the content of the first fenced block if there is one, else the stripped text."""
    start = completion.find(FENCE_OPEN)
    if start < 0:
        return completion.strip(), False
    line_end = completion.find("\n", start)
    end = completion.find(FENCE_OPEN, line_end) if line_end >= 0 else -1
    if end < 0:
        return completion.strip(), False
    return completion[line_end + 1 : end].strip(), True


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    import jsonschema  # deferred: only rubrics that give a schema pay for it

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)
