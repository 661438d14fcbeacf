"""`rewardkit view RUN` for a training run: its curves (reward, accuracy, completion length, reflection rate,
KL, entropy, loss and held-out accuracy) as one static HTML page of inline SVG, no script, no network.

A run is a folder with `metrics.jsonl` (a GRPO or SFT run) or a pipeline's folder, whose stages each have one;
each stage gets its own row of charts. Only the metrics a run logged are drawn.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
# (title, metric); a chart is drawn when the run logged its metric.
CHARTS = (
    ("reward", "reward/mean"),
    ("accuracy", "reward/accuracy"),
    ("completion length (tokens)", "completion/length_mean"),
    ("reflection rate", "reasoning/reflection_rate"),
    ("answer-change rate", "reasoning/answer_change_rate"),
    ("KL to the reference", "kl"),
    ("entropy", "entropy"),
    ("loss", "loss"),
    ("held-out accuracy", "eval/accuracy"),
)
WIDTH, HEIGHT, PAD = 320, 160, 32


def is_training_run(run: Path) -> bool:
    return bool(metrics_files(run))


def metrics_files(run: Path) -> list[Path]:
    """The run's own metrics, or each pipeline stage's, in stage order."""
    own = run / METRICS_FILE
    return [own] if own.is_file() else sorted(run.glob(f"stages/*/{METRICS_FILE}"))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The logged rows; a line cut short by a kill is skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int | float):
            rows.append(row)
    return rows


def series(rows: list[dict[str, Any]], metric: str) -> list[tuple[float, float]]:
    """(step, value) of the metric; a resumed run's rewritten steps keep their last value."""
    points = {
        float(row["step"]): float(row[metric])
        for row in rows
        if isinstance(row.get(metric), int | float) and math.isfinite(row[metric])
    }
    return sorted(points.items())


def chart(title: str, points: list[tuple[float, float]]) -> str:
    """An SVG line chart with its first and last values and its range written out."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0

    def at(x: float, y: float) -> str:
        return (
            f"{PAD + (x - x0) / span_x * (WIDTH - 2 * PAD):.1f},"
            f"{HEIGHT - PAD - (y - y0) / span_y * (HEIGHT - 2 * PAD):.1f}"
        )

    line = " ".join(at(x, y) for x, y in points)
    caption = (
        f"{html.escape(title)}: {ys[0]:.4g} → {ys[-1]:.4g} "
        f"(steps {x0:g} to {x1:g}, range {y0:.4g} to {y1:.4g})"
    )
    return (
        f'<figure><svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{html.escape(title)}"><rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" '
        f'height="{HEIGHT - 2 * PAD}" class="frame"/>'
        f'<text x="{PAD}" y="{PAD - 8}">{y1:.4g}</text><text x="{PAD}" y="{HEIGHT - 8}">{y0:.4g}</text>'
        f'<polyline points="{line}"/></svg><figcaption>{caption}</figcaption></figure>'
    )


def render(run: Path) -> str:
    sections = []
    for path in metrics_files(run):
        rows = read_metrics(path)
        charts = [chart(title, points) for title, metric in CHARTS if (points := series(rows, metric))]
        name = path.parent.name if path.parent != run else run.name
        body = "".join(charts) or "<p>no metrics logged yet</p>"
        sections.append(f"<section><h2>{html.escape(name)}</h2><div class=charts>{body}</div></section>")
    summary = run / "summary.json"
    table = _summary_table(json.loads(summary.read_text(encoding="utf-8"))) if summary.is_file() else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(run.name)}: training</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(str(run))}</h1>{table}{''.join(sections)}</body></html>"
    )


def _summary_table(summary: dict[str, dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in summary.values() for key in row))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["stage", *columns])
    body = "".join(
        "<tr><td>"
        + html.escape(stage)
        + "</td>"
        + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns)
        + "</tr>"
        for stage, row in summary.items()
    )
    return f"<h2>held-out summary</h2><table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def write_training_report(run: Path, output: Path | None = None) -> Path:
    target = output or run / "report.html"
    partial = target.with_name(target.name + ".partial")
    partial.write_text(render(run), encoding="utf-8")
    partial.replace(target)
    return target


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em}.charts{display:flex;flex-wrap:wrap;gap:1em}"
    "figure{margin:0}figcaption{font-size:12px;max-width:320px}svg text{font-size:10px}"
    "polyline{fill:none;stroke:#1f6feb;stroke-width:1.5}.frame{fill:none;stroke:#ccc}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
)
