"""Commands over a finished (or killed) evaluation run: `rescore`, `view` and `export`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rewardkit.cli.progress import RunProgress
from rewardkit.errors import ConfigError

RUN_DIR = click.Path(file_okay=False, exists=True, path_type=Path)


@click.command("rescore")
@click.argument("run", type=RUN_DIR)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="New run folder (default: RUN-rescored).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="[ENV:]KEY=VALUE",
    help="Change an environment's config for the new verdicts (ENV: when the run has several).",
)
@click.option("--force", is_flag=True, help="Also re-score environments that declare stateful_scoring.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def rescore_command(
    run: Path, output: Path | None, overrides: tuple[str, ...], force: bool, progress: bool | None
) -> None:
    """Score the stored rollouts of RUN again with the installed verifiers, into a new run folder.

    Nothing is generated. Prints how many verdicts changed per environment.
    """
    from rewardkit.evaluation.rescore import rescore

    target = output or run.with_name(run.name + "-rescored")
    display = RunProgress(enabled=progress, label="rescore")
    with display:
        metadata = rescore(run, target, overrides, force, on_start=display.start, on_record=display.record)
    display.summary(metadata, target, changed=metadata["changes"])
    for env, tally in metadata["changes"].items():
        moves = ", ".join(f"{move}: {n}" for move, n in tally.items() if "->" in move)
        click.echo(
            f"{env}: {tally['changed']} of {tally['rollouts']} verdicts changed"
            + (f" ({moves})" if moves else "")
        )


@click.command("view")
@click.argument("run", type=RUN_DIR)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file (default: RUN/report.html).",
)
@click.option("--max-chars", default=20_000, show_default=True, help="Longer messages are cut in the page.")
def view_command(run: Path, output: Path | None, max_chars: int) -> None:
    """Write a self-contained HTML report of RUN: metrics, pass@k curve, scores, every rollout (filterable);
    of a training run or pipeline: its curves (reward, accuracy, length, reflection rate, KL, entropy).

    Open it in any browser; it needs no server and no network.
    """
    from rewardkit.evaluation import rundir
    from rewardkit.evaluation.report import write_report
    from rewardkit.evaluation.training_report import is_training_run, write_training_report

    if not rundir.metadata_path(run).exists() and is_training_run(run):
        path = write_training_report(run, output)
    else:
        path = write_report(run, output, max_chars)
    click.echo(f"wrote {path}  (open file://{path.resolve()})")


@click.command("export")
@click.argument("run", type=RUN_DIR)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="OUT.jsonl, OUT.parquet, or a folder (a Hugging Face datasets folder).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "parquet", "hf"]), help="Default: from --output."
)
@click.option(
    "--select",
    type=click.Choice(["correct", "best", "shortest", "all"]),
    default="correct",
    show_default=True,
    help="correct: every passing rollout; best: a prompt's top-scoring one; shortest: its shortest "
    "passing one; all: every scored rollout.",
)
@click.option(
    "--pass-band", metavar="LOW:HIGH", help="Keep prompts whose pass rate is in [LOW, HIGH], e.g. 0.1:0.9."
)
@click.option("--max-per-prompt", type=int, help="At most this many rows per prompt.")
@click.option(
    "--dedup/--no-dedup", default=True, show_default=True, help="Drop a prompt's repeated completions."
)
@click.option(
    "--threshold", type=float, help="A rollout passes at this score (default: the run's threshold)."
)
@click.option("--min-score", type=float, help="Leave out rollouts scoring below this.")
@click.option("--keep-truncated", is_flag=True, help="Also export replies cut at max_tokens.")
@click.option("--env", "environments", multiple=True, help="Only these environments (repeatable).")
@click.option(
    "--prompts-only", is_flag=True, help="One row per kept prompt (id, prompt, answer, info): RL data."
)
def export_command(run: Path, output: Path, fmt: Any, pass_band: str | None, **options: Any) -> None:
    """Turn RUN's rollouts into SFT data in chat `messages` form (rejection sampling), or its prompts
    into RL data.

    \b
    rewardkit export runs/teacher --output sft.jsonl --select correct --max-per-prompt 2
    rewardkit export runs/policy --output rl-prompts.jsonl --prompts-only --pass-band 0.1:0.9
    """
    from rewardkit.evaluation.export import ExportOptions, export

    options["environments"] = tuple(options["environments"])
    stats = export(run, output, ExportOptions(pass_band=_band(pass_band), **options), fmt)
    per_env = ", ".join(f"{env}: {n}" for env, n in stats.per_env.items())
    click.echo(
        f"wrote {stats.rows} rows to {output} ({per_env or 'none'}); {stats.prompts_in_band} of "
        f"{stats.prompts} prompts kept; {stats.unusable} errored/unscored/truncated and {stats.duplicates} "
        "duplicate rollouts left out"
    )


def _band(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    low, sep, high = text.partition(":")
    try:
        band = (float(low), float(high))
    except ValueError:
        band = (1.0, 0.0)
    if not sep or not 0.0 <= band[0] <= band[1] <= 1.0:
        raise ConfigError(f"--pass-band {text}: expected LOW:HIGH with 0 <= LOW <= HIGH <= 1, e.g. 0.1:0.9")
    return band


def register(cli: click.Group) -> None:
    for command in (rescore_command, view_command, export_command):
        cli.add_command(command)
