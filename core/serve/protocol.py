"""Request bodies of the server's routes, validated strictly; every problem becomes one line."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rewardkit.config import StrictModel
from rewardkit.types import Sample, Trajectory

M = TypeVar("M", bound=BaseModel)


class BadRequest(Exception):
    """The request is malformed; `str(error)` is the one-line reason sent back with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Strict(StrictModel):
    model_config = ConfigDict(strict=True)  # request bodies: no type coercion either


class SampleIn(Strict):
    # default_factory, not `= []`: pydantic deep-copies a mutable default for every row it validates
    id: str = "request"
    prompt: list[dict[str, Any]] | str = Field(default_factory=list)
    answer: Any = None
    info: dict[str, Any] = Field(default_factory=dict)

    def to_sample(self) -> Sample:
        # the validated fields as they are: model_dump would copy every prompt and answer once more
        fields = {"id": self.id, "prompt": self.prompt, "answer": self.answer, "info": self.info}
        return Sample.from_dict(fields)


class ScoreItem(Strict):
    env: str = Field(description="a served environment's name (GET /v1/envs)")
    sample: SampleIn | None = None
    sample_id: str | None = Field(
        None, description="instead of `sample`: a sample of the environment's dataset"
    )
    split: str | None = Field(None, description="the split of `sample_id`; default: the environment's first")
    completion: str | None = None
    trajectory: dict[str, Any] | None = Field(None, description="instead of `completion`: a Trajectory")

    @model_validator(mode="after")
    def _one_of_each(self) -> ScoreItem:
        if (self.sample is None) == (self.sample_id is None):
            raise ValueError("give exactly one of `sample` and `sample_id`")
        if (self.completion is None) == (self.trajectory is None):
            raise ValueError("give exactly one of `completion` and `trajectory`")
        return self

    def answer(self) -> str | Trajectory:
        """The completion, or the whole trajectory (episode environments score every turn of it)."""
        if self.completion is not None:
            return self.completion
        return Trajectory.from_dict(self.trajectory or {})


class ScoreRequest(Strict):
    items: list[ScoreItem]
    timeout: float | None = Field(None, gt=0, description="seconds; at most the server's request_timeout")


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward request: full texts, prompts and labels, aligned."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    query: list[str]
    prompts: list[str]
    labels: list[Any] | None = None

    @model_validator(mode="after")
    def _aligned(self) -> OpenRLHFRequest:
        sizes = {len(self.query), len(self.prompts), *([len(self.labels)] if self.labels is not None else [])}
        if len(sizes) > 1:
            raise ValueError("query, prompts and labels must have the same length")
        return self


def parse(model: type[M], body: bytes) -> M:
    """`body` as `model`, or BadRequest with the first problem (and how many more) in one line."""
    if not body.strip():
        raise BadRequest("empty body; send a JSON object")
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        raise BadRequest(one_line(error)) from None


def one_line(error: ValidationError) -> str:
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "json_invalid":
        where, message = "body", f"not valid JSON ({first.get('ctx', {}).get('error', message)})"
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"{where}: {message}{more}"[:500]
