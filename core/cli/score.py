"""`rewardkit score ENV --input IN.jsonl --output OUT.jsonl`: re-score completions, streaming.

Rows are scored in small chunks, several in flight, and written in input order as soon as they are done,
so memory stays flat for any file size and the progress bar moves every few rows. The input is checked
whole before scoring starts (where it is a file), and so is the output path. Ctrl-C stops the run
keeping every row already written; `--resume` scores the rest.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from rewardkit.cli.options import build_environment, set_option
from rewardkit.cli.output import Output, open_output, row_key
from rewardkit.cli.rows import InputError, InputRow, RowReader
from rewardkit.environment import Environment
from rewardkit.errors import ConfigError
from rewardkit.executors import RayOptions, RayScorer, make_scorer
from rewardkit.overrides import parse_override
from rewardkit.scoring import Scorer
from rewardkit.types import RewardResult

EXIT_TOO_MANY_ERRORS = 1
EXIT_INTERRUPTED = 130  # the shell's code for a process stopped by SIGINT


@dataclass
class Tally:
    rows: int = 0
    scored: int = 0
    skipped: int = 0
    errors: int = 0
    total: float = 0.0
    first_error: str | None = None

    def add(self, result: RewardResult) -> None:
        self.rows += 1
        if result.error is not None:
            self.errors += 1
            self.first_error = self.first_error or result.error
        elif result.score is None:
            self.skipped += 1
        else:
            self.scored += 1
            self.total += result.score

    def summary(self, seconds: float) -> str:
        mean = f"{self.total / self.scored:.4f}" if self.scored else "n/a"
        rate = self.rows / seconds if seconds > 0 else float("inf")
        return (
            f"rows={self.rows} mean_score={mean} scored={self.scored} skipped={self.skipped} "
            f"errors={self.errors} rows/s={rate:.1f}"
        )


@click.command()
@click.argument("env_name", metavar="ENV")
@click.option("--input", "input_path", required=True, metavar="PATH", help="JSONL of rows; - for stdin.")
@click.option("--output", "output_path", required=True, metavar="PATH", help="JSONL to write; - for stdout.")
@set_option
@click.option(
    "--rubric",
    "rubric_items",
    multiple=True,
    metavar="NAME=WEIGHT",
    help="Score with a rubric instead of the environment alone (repeatable), e.g. "
    "--rubric math.accuracy=1 --rubric format.think_answer=0.2",
)
@click.option("--concurrency", default=16, show_default=True, help="Samples scored at once.")
@click.option(
    "--timeout", type=float, default=None, help="Per-sample deadline in seconds (default: the env's)."
)
@click.option(
    "--max-error-rate",
    type=float,
    default=0.1,
    show_default=True,
    help="Exit with status 1 when more than this share of rows are errors (all rows are still written).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where scoring runs: this machine's pool, or actors of a Ray cluster (rewardkit[ray]).",
)
@click.option("--ray-address", help="A Ray cluster to join (default: a running one, or a local one).")
@click.option("--ray-actors", type=int, help="Scoring actors (default: the cluster's CPUs).")
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the rows already in --output (or in OUTPUT.partial, left by a killed run), check that they "
    "match the start of --input, and score only the rest, appending to --output.",
)
def score(
    env_name: str,
    input_path: str,
    output_path: str,
    overrides: tuple[str, ...],
    rubric_items: tuple[str, ...],
    concurrency: int,
    timeout: float | None,
    max_error_rate: float,
    executor: str,
    ray_address: str | None,
    ray_actors: int | None,
    resume: bool,
) -> None:
    """Score the completions in a JSONL file with environment ENV.

    Input rows: {"completion": str, "answer": any, "info": {...}, "prompt": optional, "id": optional};
    `rewardkit envs show ENV` lists the fields ENV reads. Output rows: the input row plus
    "score", "components", "error", and the verdict's details (extracted answer, matching strategy, test
    results...) in "info"."reward". Ctrl-C keeps every row written so far; run again with --resume.
    """
    _check_options(concurrency, timeout, max_error_rate)
    env = build_environment(env_name, overrides)
    rubric = _rubric_spec(rubric_items) if rubric_items else None
    ray = RayOptions(address=ray_address, actors=ray_actors)
    reader = RowReader(input_path, env)
    output = open_output(output_path, resume)
    finished = False
    try:
        total, checked = reader.checked()
        rows = _skip_done(checked, output)
        started, tally = time.perf_counter(), Tally()
        with (
            make_scorer(env, rubric, timeout, concurrency, executor, ray) as scorer,
            _progress(total, len(output.done), env.name) as progress,
        ):
            finished = _Run(scorer, output, tally, concurrency).drive(rows, progress)
    finally:
        output.close(keep=finished or output.written > 0)
    if not finished:
        _stop_interrupted(output, total)
    click.echo(tally.summary(time.perf_counter() - started), err=True)
    if tally.rows and tally.errors / tally.rows > max_error_rate:
        click.echo(
            f"error: {tally.errors} of {tally.rows} rows are errors, above --max-error-rate "
            f"{max_error_rate:g}; the first: {tally.first_error}",
            err=True,
        )
        sys.exit(EXIT_TOO_MANY_ERRORS)


def _stop_interrupted(output: Output, total: int | None) -> NoReturn:
    written = len(output.done) + output.written
    of = f"/{total}" if total is not None else ""
    click.echo(
        f"interrupted: {written}{of} rows written to {output.name}; "
        "run the same command with --resume to score the rest",
        err=True,
    )
    sys.exit(EXIT_INTERRUPTED)


def _check_options(concurrency: int, timeout: float | None, max_error_rate: float) -> None:
    if concurrency < 1:
        raise ConfigError(f"--concurrency: must be at least 1, got {concurrency}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"--timeout: must be a positive number of seconds, got {timeout:g}")
    if not 0.0 <= max_error_rate <= 1.0:
        raise ConfigError(f"--max-error-rate: must be between 0 and 1, got {max_error_rate:g}")


def _skip_done(rows: Iterator[InputRow], output: Output) -> Iterator[InputRow]:
    """The rows after those already in the output, once each of those is checked against its input row."""
    for index, done in enumerate(output.done):
        row = next(rows, None)
        if row is None or row_key(row.data) != done:
            where = f"line {row.line} of the input" if row else "the end of the input"
            raise InputError(
                f"--resume: row {index + 1} of {output.name} does not match {where}; it was scored from "
                "another input. Score into a new --output instead"
            )
    return rows


class _Run:
    """Chunks in flight on the Scorer, written in input order as the oldest one finishes.

    Chunks start small, so that a slow environment shows progress every few rows, and double while one
    takes under FAST seconds, so that a fast environment is not slowed by the cost of each call (a
    cross-thread round trip). At most `concurrency` rows are in flight; a chunk larger than that runs alone.
    """

    FAST, SLOW, LARGEST = 0.05, 0.5, 1024

    def __init__(self, scorer: Scorer | RayScorer, output: Output, tally: Tally, concurrency: int) -> None:
        self.scorer, self.output, self.tally = scorer, output, tally
        self.concurrency = concurrency
        batches_itself = scorer.rubric is None and type(scorer.env).score_batch is not Environment.score_batch
        # An environment that scores whole batches itself (a judge sends them together) gets full ones.
        self.smallest = concurrency if batches_itself else max(1, concurrency // 4)
        self.chunk = self.smallest

    def drive(self, rows: Iterator[InputRow], progress: Any) -> bool:
        """Score every row; False when Ctrl-C stopped the run first."""
        return asyncio.run(self._drive(rows, progress))

    async def _drive(self, rows: Iterator[InputRow], progress: Any) -> bool:
        loop, stop = asyncio.get_running_loop(), asyncio.Event()
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        in_flight: deque[tuple[list[InputRow], float, asyncio.Future[Any]]] = deque()
        with _on_interrupt(lambda: loop.call_soon_threadsafe(stop.set)):
            try:
                while True:
                    while len(in_flight) < max(1, self.concurrency // self.chunk):
                        part = list(itertools.islice(rows, self.chunk))
                        if not part:
                            break
                        in_flight.append(
                            (part, time.perf_counter(), asyncio.ensure_future(self._score(part)))
                        )
                    if not in_flight:
                        return True
                    part, sent, batch = in_flight[0]
                    await asyncio.wait({batch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    if stop.is_set():
                        return False
                    in_flight.popleft()
                    self._write(part, batch.result())
                    progress.advance(len(part))
                    self._resize(time.perf_counter() - sent)
            finally:
                await self._settle([batch for _, _, batch in in_flight], stopping)

    def _resize(self, seconds: float) -> None:
        if seconds < self.FAST:
            self.chunk = min(self.LARGEST, self.chunk * 2)
        elif seconds > self.SLOW:
            self.chunk = max(self.smallest, self.chunk // 2)

    async def _score(self, part: list[InputRow]) -> list[RewardResult]:
        return await self.scorer.score_batch([r.sample for r in part], [r.completion for r in part])

    async def _settle(self, batches: list[asyncio.Future[Any]], stopping: asyncio.Future[Any]) -> None:
        """Cancel what is in flight and let the Scorer's loop unwind it before the Scorer closes."""
        stopping.cancel()
        for batch in batches:
            batch.cancel()
        await asyncio.gather(*batches, stopping, return_exceptions=True)
        if batches:
            for _ in range(3):  # each empty batch is one round trip through the Scorer's loop
                await self.scorer.score_batch([], [])

    def _write(self, part: list[InputRow], results: list[RewardResult]) -> None:
        lines = []
        for row, result in zip(part, results, strict=True):
            self.tally.add(result)
            lines.append(json.dumps(output_row(row, result), ensure_ascii=False) + "\n")
        self.output.write(lines)


def output_row(row: InputRow, result: RewardResult) -> dict[str, Any]:
    """The input row plus the outcome; the verdict's details go under info.reward, beside the row's info
    (which stays as it was, so the output can be scored again or resumed)."""
    outcome = result.to_dict()
    info = {**(row.data.get("info") or {}), "reward": outcome.pop("info")}
    return {**row.data, **outcome, "info": info}


@contextmanager
def _on_interrupt(callback: Callable[[], object]) -> Iterator[None]:
    """The first Ctrl-C calls `callback` (the run stops, keeping what it wrote); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, previous)
        callback()

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _NoProgress:
    """What `_progress` gives when stderr is no terminal: no bar to draw, so rich (~50 ms) is not imported."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self, rows: int) -> None:
        return None


class _Bar:
    def __init__(self, total: int | None, done: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.progress.add_task(description, total=total, completed=done)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, rows: int) -> None:
        self.progress.advance(self.task, rows)


def _progress(total: int | None, done: int, env_name: str) -> _Bar | _NoProgress:
    if not sys.stderr.isatty():
        return _NoProgress()
    return _Bar(total, done, f"scoring with {env_name}")


def _rubric_spec(items: tuple[str, ...]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for item in items:
        path, weight = parse_override(item)
        spec[".".join(path)] = weight
    return spec


def register(cli: click.Group) -> None:
    cli.add_command(score)
