"""`rewardkit score`: no lost work (Ctrl-C, kill -9, --resume), safe writes, checked input and output."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import rewardkit as rk
from rewardkit.cli.main import cli

SLOW_PLUGIN = """
import asyncio
import rewardkit as rk

class Slow(rk.Environment):
    name = "slow"
    sample_format = rk.SampleFormat(required={"answer": "the expected completion"})

    class Config(rk.EnvConfig):
        delay: float = 0.02

    def dataset(self, split):
        yield rk.Sample(id="0", prompt=[rk.user("x")], answer="1")

    async def score(self, sample, completion):
        await asyncio.sleep(self.config.delay)
        return float(completion == sample.answer)

@rk.hookimpl
def register_environments(register):
    register(Slow)
"""


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, input=input)


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def read_rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def slow_env(make_dist):
    """A real installed plugin (for subprocesses): `slow` sleeps `delay` seconds per row."""
    root = make_dist("rewardkit-slow", {"rk_slow": SLOW_PLUGIN}, {"slow": "rk_slow"})
    return {**os.environ, "PYTHONPATH": str(root), "REWARDKIT_PLUGINS": "slow"}


def start_score(env, *args):
    argv = [sys.executable, "-m", "rewardkit.cli", "score", "slow", *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def resume(env, args):
    """Run the same command with --resume to its end; its stderr."""
    process = start_score(env, *args, "--resume")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    return stderr


def wait_for_lines(path, count, process, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {count} rows")


def hundred_rows(tmp_path):
    rows = [{"id": f"r{i}", "completion": "1", "answer": "1"} for i in range(100)]
    return write_rows(tmp_path / "in.jsonl", rows)


def test_ctrl_c_keeps_every_written_row_in_one_line_and_resume_scores_the_rest(slow_env, tmp_path):
    source, out = hundred_rows(tmp_path), tmp_path / "out.jsonl"
    args = ("--input", str(source), "--output", str(out), "--concurrency", "4")
    process = start_score(slow_env, *args)
    wait_for_lines(tmp_path / "out.jsonl.partial", 8, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    kept = read_rows(out)
    assert stderr.splitlines() == [
        f"interrupted: {len(kept)}/100 rows written to {out}; "
        "run the same command with --resume to score the rest"
    ]
    assert 8 <= len(kept) < 100
    assert [row["id"] for row in kept] == [f"r{i}" for i in range(len(kept))]
    assert not (tmp_path / "out.jsonl.partial").exists()

    assert f"rows={100 - len(kept)} " in resume(slow_env, args)
    assert [row["id"] for row in read_rows(out)] == [f"r{i}" for i in range(100)]


def test_resume_continues_from_what_a_killed_run_left(slow_env, tmp_path):
    source, out = hundred_rows(tmp_path), tmp_path / "out.jsonl"
    out.write_text("an older output that the killed run was replacing\n")
    args = ("--input", str(source), "--output", str(out), "--concurrency", "4")
    process = start_score(slow_env, *args)
    wait_for_lines(tmp_path / "out.jsonl.partial", 8, process)
    process.kill()
    process.wait()
    with (tmp_path / "out.jsonl.partial").open("a") as partial:
        partial.write('{"id": "r9", "comple')  # a row torn by the kill
    resume(slow_env, args)
    assert [row["id"] for row in read_rows(out)] == [f"r{i}" for i in range(100)]


def test_resume_refuses_an_output_scored_from_another_input(echo_host, tmp_path):
    out = write_rows(tmp_path / "out.jsonl", [{"id": "a", "completion": "0", "score": 1.0}])
    source = write_rows(tmp_path / "in.jsonl", [{"id": "b", "completion": "0"}])
    result = run("score", "echo", "--input", str(source), "--output", str(out), "--resume")
    assert result.exit_code == 2
    assert "--resume: row 1 of" in result.stderr and "another input" in result.stderr
    assert read_rows(out) == [{"id": "a", "completion": "0", "score": 1.0}]


def test_output_rows_keep_their_info_and_add_the_verdict(tmp_path):
    source = write_rows(
        tmp_path / "in.jsonl",
        [{"completion": "<think>2+2</think><answer>4</answer>", "answer": "4", "info": {"src": "x"}}],
    )
    out = tmp_path / "out.jsonl"
    assert run("score", "math", "--input", str(source), "--output", str(out)).exit_code == 0
    [row] = read_rows(out)
    assert row["info"]["src"] == "x"
    assert row["info"]["reward"]["extracted"] == "4"
    assert row["info"]["reward"]["strategy"] == "answer_tag"


def test_a_symlink_keeps_pointing_at_its_replaced_target(echo_host, tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "0", "answer": "0"}])
    target, link = tmp_path / "target.jsonl", tmp_path / "link.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    link.symlink_to(target.name)
    assert run("score", "echo", "--input", str(source), "--output", str(link)).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == "target.jsonl"
    assert read_rows(target)[0]["score"] == 1.0
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_fifo_is_written_through_not_replaced(echo_host, tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "0", "answer": "0"}])
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        result = run("score", "echo", "--input", str(source), "--output", str(fifo))
        assert result.exit_code == 0, result.stderr
        assert json.loads(reader.communicate(timeout=10)[0])["score"] == 1.0
    finally:
        reader.kill()  # still waiting when the FIFO was never opened for writing
        reader.wait()
    assert fifo.is_fifo()


def devices(tmp_path):
    """(null, full): private nodes where we may make them (as root a regression would replace the real
    /dev/null), else the machine's own, which a user without root cannot replace anyway."""
    if os.geteuid() != 0:
        return "/dev/null", "/dev/full"
    null, full = tmp_path / "null", tmp_path / "full"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return str(null), str(full)


def test_a_device_is_written_through_and_its_errors_are_one_line(echo_host, tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "0", "answer": "0"}])
    null, full = devices(tmp_path)
    assert run("score", "echo", "--input", str(source), "--output", null).exit_code == 0
    failed = run("score", "echo", "--input", str(source), "--output", full)
    assert failed.exit_code == 2
    assert failed.stderr.strip() == f"error: cannot write --output {full}: No space left on device"
    assert all(stat.S_ISCHR(os.stat(device).st_mode) for device in (null, full))


@pytest.mark.parametrize("path", ["/dev/stdout", "/dev/stderr", "/proc/self/fd/1"])
def test_a_process_stream_is_written_through_whatever_it_points_to(path):
    from rewardkit.cli.output import open_output

    output = open_output(path, resume=False)
    try:
        assert output.temp is None  # never a rename: that would replace the link (or, as root, the device)
    finally:
        output.close(keep=False)
    assert os.path.islink(path) or path.startswith("/proc/")


def test_dash_reads_stdin_and_writes_stdout(echo_host):
    result = run(
        "score", "echo", "--input", "-", "--output", "-", input='{"completion": "0", "answer": "0"}\n'
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["score"] == 1.0


@pytest.mark.parametrize(
    ("make_output", "message"),
    [
        (lambda tmp: tmp, "is a directory; give a file path, e.g."),
        (lambda tmp: tmp / "missing" / "out.jsonl", "does not exist; create it (mkdir -p"),
    ],
)
def test_an_unusable_output_fails_before_any_scoring(echo_host, tmp_path, make_output, message):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "raise"}])
    result = run("score", "echo", "--input", str(source), "--output", str(make_output(tmp_path)))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and message in line


def test_an_unwritable_directory_is_one_line(echo_host, tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "0"}])
    if os.geteuid() == 0:
        target = "/sys/rewardkit-score-test.jsonl"  # root may write anywhere but here
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = str(locked / "out.jsonl")
    result = run("score", "echo", "--input", str(source), "--output", target)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot write --output {target}:")


def test_invalid_utf8_names_its_line(echo_host, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"completion": "0"}\n{"completion": "caf\xe9"}\n')
    result = run("score", "echo", "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {source}:2: not valid UTF-8 (byte 0xe9 at column 20)")


@pytest.mark.parametrize("value", ["-1", "0"])
def test_a_timeout_that_is_not_positive_is_rejected(echo_host, tmp_path, value):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "0"}])
    result = run("score", "echo", "--input", str(source), "--output", str(tmp_path / "o"), "--timeout", value)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: --timeout: must be a positive number of seconds, got {value}"


def test_exit_status_follows_the_error_rate(echo_host, tmp_path):
    rows = [{"completion": "raise"}] * 3 + [{"completion": "0", "answer": "0"}] * 7
    source, out = write_rows(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    failing = run("score", "echo", "--input", str(source), "--output", str(out))
    assert failing.exit_code == 1
    assert (
        "error: 3 of 10 rows are errors, above --max-error-rate 0.1; the first: echo raised" in failing.stderr
    )
    assert len(read_rows(out)) == 10  # every row is still written
    allowed = run("score", "echo", "--input", str(source), "--output", str(out), "--max-error-rate", "0.5")
    assert allowed.exit_code == 0


@pytest.mark.parametrize(
    ("env", "row", "expected"),
    [
        ("math", {"completion": "4", "gold": "4"}, "is missing 'answer' (the reference answer"),
        ("code", {"completion": "x", "info": {"tests": ["assert f()"]}}, "(info has tests)"),
        (
            "code",
            {"completion": "x", "answer": [{"input": "1", "output": "1"}]},
            "code does not read 'answer'",
        ),
        ("code", {"completion": "x", "info": {"test": "assert f()"}}, "info.test + info.entry_point"),
        ("ifeval", {"completion": "x"}, "is missing 'info.instruction_id_list'"),
    ],
)
def test_a_row_the_environment_cannot_read_names_the_missing_key(tmp_path, env, row, expected):
    source = write_rows(tmp_path / "in.jsonl", [row])
    result = run("score", env, "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {source}:1: a {env} row ")
    assert expected in line and f"rewardkit envs show {env}" in line


def test_progress_moves_every_few_rows_on_a_slow_environment(echo_host, tmp_path):
    from rewardkit.cli.output import Output
    from rewardkit.cli.rows import RowReader
    from rewardkit.cli.score import Tally, _Run

    env = rk.load_environment("echo", sleep=0.0)
    source = write_rows(
        tmp_path / "in.jsonl", [{"completion": "hang-async"}] * 2 + [{"completion": "0"}] * 98
    )
    advances = []

    class Progress:
        def advance(self, rows):
            advances.append(rows)

    with (tmp_path / "o.jsonl").open("w") as handle, rk.Scorer(env, timeout=0.3, concurrency=16) as scorer:
        run_ = _Run(scorer, Output("o", handle), Tally(), concurrency=16)
        assert run_.drive(RowReader(str(source), env).rows(), Progress())
    assert sum(advances) == 100
    assert advances[0] == 4  # the first chunk waited for its deadline: chunks stayed small
    assert max(advances) > 16  # fast rows made them grow


def test_score_leaves_the_garbage_collector_alone(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "a b c", "answer": 3}])
    argv = ["score", "wordcount", "--input", str(source), "--output", str(tmp_path / "o")]
    probe = (
        "import atexit, gc\nfrom rewardkit.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "atexit._run_exitfuncs()\nprint(gc.get_freeze_count())"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0", done.stderr


def test_a_judge_endpoint_that_is_down_is_one_line(tmp_path):
    source = write_rows(
        tmp_path / "in.jsonl", [{"completion": "Paris", "answer": "Paris", "prompt": "Capital?"}]
    )
    backend = [
        "--set",
        "backend.kind=openai",
        "--set",
        "backend.model=m",
        "--set",
        "backend.base_url=http://127.0.0.1:9/v1",
    ]
    result = run("score", "judge", "--input", str(source), "--output", str(tmp_path / "o"), *backend)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: judge endpoint http://127.0.0.1:9/v1 is unreachable")
    assert "start the server or fix judge.backend.base_url" in line
    assert not (tmp_path / "o").exists()
