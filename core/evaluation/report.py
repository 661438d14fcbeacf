"""`rewardkit view DIR`: one self-contained static HTML file (no server, no network) to look at a run.

The page (report.html, with its script and style inline) gets the run's metadata and every rollout as JSON
in a `<script type="application/json">` block. Every `<` in that JSON is written as `\\u003c`, so no model
output can close the block or open a comment; the page puts text in with `textContent`, never as markup.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from rewardkit.evaluation import rundir
from rewardkit.evaluation.metrics import parsed_answer
from rewardkit.records import RolloutRecord
from rewardkit.types import json_safe

PLACEHOLDER = "/*__RUN_DATA__*/"
DEFAULT_MAX_CHARS = 20_000


def rollout_row(record: RolloutRecord, max_chars: int) -> dict[str, Any]:
    """What the page shows of one rollout (long texts cut at `max_chars`, and marked as cut)."""
    result = record.result
    reports, answer = parsed_answer(result.info)
    return {
        "env": record.env,
        "id": record.sample.id,
        "rollout": record.rollout,
        "score": result.score,
        "error": result.error,
        "components": dict(result.components),
        "answer": json_safe(answer) if reports else None,
        "reports_answer": reports,
        "stop": record.trajectory.stop_reason,
        "turns": record.trajectory.turns,
        "turn_rewards": list(record.trajectory.turn_rewards),
        "trajectory_info": json_safe(dict(record.trajectory.info)),
        "tokens": dict(record.tokens),
        "timing": dict(record.timing),
        "prompt": [_cut_message(m, max_chars) for m in record.sample.prompt],
        "messages": [_cut_message(m, max_chars) for m in record.trajectory.messages],
        "gold": _cut(json.dumps(json_safe(record.sample.answer), ensure_ascii=False), max_chars),
        "info": json_safe(dict(result.info)),
    }


def _cut_message(message: Any, max_chars: int) -> dict[str, Any]:
    out = dict(json_safe(dict(message)))
    out["content"] = _cut(str(message.get("content") or ""), max_chars)
    for call in out.get("tool_calls") or []:  # a call's arguments (a program) can be as long as any text
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and "arguments" in function:
            arguments = function["arguments"]
            text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            function["arguments"] = _cut(text, max_chars)
    return out


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + f"\n[... {len(text) - max_chars} more characters not shown]"


def render(run: str | Path, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    metadata = rundir.read_metadata(run)
    rows = [rollout_row(record, max_chars) for record in rundir.latest_records(run).values()]
    data = {"run": str(run), "metadata": metadata, "rollouts": rows}
    payload = json.dumps(json_safe(data), ensure_ascii=False).replace("<", "\\u003c")
    template = resources.files("rewardkit.evaluation").joinpath("report.html").read_text(encoding="utf-8")
    return template.replace(PLACEHOLDER, payload)


def write_report(
    run: str | Path, output: str | Path | None = None, max_chars: int = DEFAULT_MAX_CHARS
) -> Path:
    """Write the report (default: DIR/report.html) and return its path."""
    target = Path(output) if output is not None else Path(run) / "report.html"
    html = render(run, max_chars)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(target)
    return target
