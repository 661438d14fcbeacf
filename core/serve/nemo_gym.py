"""NeMo Gym's `/verify` protocol: a Responses-API response in, the request back with its `reward`.

The request carries `responses_create_params` (the prompt), `response` (the policy's Responses-API
output) and the task's own fields; rewardkit reads the answer from `expected_answer` (or `answer`), the
sample's extras from `info`, or a whole serialized sample from `rewardkit_sample`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rewardkit.serve.protocol import BadRequest
from rewardkit.types import RewardResult, Sample


def verify_sample_and_text(body: Any) -> tuple[Sample, str]:
    if not isinstance(body, Mapping):
        raise BadRequest(f"body: expected a JSON object, got {type(body).__name__}")
    response = body.get("response")
    if not isinstance(response, Mapping) or not isinstance(response.get("output"), list):
        raise BadRequest("response.output: required, a list of Responses-API output items")
    text = _final_text(response["output"])
    serialized = body.get("rewardkit_sample")
    if isinstance(serialized, Mapping):
        try:
            return Sample.from_dict({"id": "verify", **serialized}), text
        except (TypeError, ValueError) as error:
            raise BadRequest(f"rewardkit_sample: {error}") from None
    params = body.get("responses_create_params")
    prompt = params.get("input") if isinstance(params, Mapping) else None
    info = body.get("info") if isinstance(body.get("info"), Mapping) else {}
    answer = body.get("expected_answer", body.get("answer"))
    sample = Sample.from_dict({"id": "verify", "prompt": _messages(prompt), "answer": answer, "info": info})
    return sample, text


def verify_reply(body: Mapping[str, Any], result: RewardResult) -> dict[str, Any]:
    """The request with `reward`; infrastructure errors and inapplicable samples are masked."""
    reply: dict[str, Any] = {**body, "reward": result.score if result.score is not None else 0.0}
    reply["mask_sample"] = result.score is None
    if result.error is not None:
        reply["failure_kind"] = f"rewardkit:{result.info.get('error_kind', 'error')}"
        reply["failure_reason"] = result.error
    return reply


def _final_text(output: list[Any]) -> str:
    """The text of the last assistant message among the output items."""
    for item in reversed(output):
        if (
            isinstance(item, Mapping)
            and item.get("type") == "message"
            and item.get("role", "assistant") == "assistant"
        ):
            parts = item.get("content") or []
            if isinstance(parts, str):
                return parts
            return "".join(
                str(part.get("text", "")) for part in parts if isinstance(part, Mapping) and "text" in part
            )
    return ""


def _messages(prompt: Any) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list):
        return []
    return [
        {"role": str(m.get("role", "user")), "content": m["content"]}
        for m in prompt
        if isinstance(m, Mapping) and isinstance(m.get("content"), str)
    ]
