"""The CLI's behaviour on success and on every documented error."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rewardkit.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_rows(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def rows_file(tmp_path):
    rows = [{"completion": str(i % 3), "answer": "1", "id": f"r{i}", "extra": i} for i in range(50)]
    rows[10]["completion"] = "raise"
    return write_rows(tmp_path / "in.jsonl", rows)


def test_score_keeps_order_adds_fields_and_summarises(echo_host, rows_file, tmp_path):
    out = tmp_path / "out.jsonl"
    result = run("score", "echo", "--input", str(rows_file), "--output", str(out), "--concurrency", "4")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(50)]
    assert rows[1]["score"] == 1.0 and rows[1]["extra"] == 1 and rows[1]["components"] == {"length": 1}
    assert rows[0]["score"] == 0.0 and rows[0]["error"] is None
    assert rows[10]["score"] is None and "verifier bug" in rows[10]["error"]
    assert "rows=50" in result.stderr and "errors=1" in result.stderr and "rows/s=" in result.stderr


def test_score_with_a_rubric(echo_host, rows_file, tmp_path):
    out = tmp_path / "out.jsonl"
    result = run(
        "score",
        "echo",
        "--input",
        str(rows_file),
        "--output",
        str(out),
        "--rubric",
        "echo=1",
        "--rubric",
        "test.short=0.5",
    )
    assert result.exit_code == 0
    assert json.loads(out.read_text().splitlines()[1])["score"] == 1.5


def test_unknown_environment_is_one_line_listing_known_ones(echo_host, rows_file, tmp_path):
    result = run("score", "nope", "--input", str(rows_file), "--output", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown environment 'nope'. Known environments: echo, parrot."


def test_bad_set_key_names_the_field_path(echo_host, rows_file, tmp_path):
    result = run(
        "score", "echo", "--input", str(rows_file), "--output", str(tmp_path / "o.jsonl"), "--set", "sizee=3"
    )
    assert result.exit_code == 2
    assert "echo.config.sizee: unknown field; did you mean 'size'?" in result.stderr
    bad_value = run(
        "score",
        "echo",
        "--input",
        str(rows_file),
        "--output",
        str(tmp_path / "o.jsonl"),
        "--set",
        "size=lots",
    )
    assert bad_value.exit_code == 2 and "echo.config.size:" in bad_value.stderr


def test_unreadable_input(echo_host, tmp_path):
    result = run("score", "echo", "--input", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "cannot read --input" in result.stderr and "missing.jsonl" in result.stderr


def test_bad_json_line_gives_its_number_and_leaves_no_output(echo_host, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"completion": "1"}\n\n{"completion": oops}\n')
    out = tmp_path / "out.jsonl"
    result = run("score", "echo", "--input", str(source), "--output", str(out))
    assert result.exit_code == 2
    assert f"{source}:3: invalid JSON" in result.stderr
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_row_without_completion_is_rejected_with_its_line(echo_host, tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "1"}, {"answer": 3}])
    result = run("score", "echo", "--input", str(source), "--output", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2 and ":2: field 'completion' must be a string" in result.stderr


def test_plugins_json_and_envs_listing(echo_host):
    plugins = json.loads(run("plugins", "--json").stdout)
    assert plugins == [
        {
            "name": "echo",
            "module": "EchoPlugin",
            "distribution": "rewardkit-echo",
            "version": None,
            "status": "ok",
            "environments": ["echo", "parrot"],
            "rewards": ["test.exact", "test.short"],
            "sandboxes": [],
            "tools": [],
            "commands": [],
            "errors": [],
        }
    ]
    envs = json.loads(run("envs", "--json").stdout)
    assert [(e["name"], e["alias_of"]) for e in envs] == [("echo", None), ("parrot", "echo")]
    shown = json.loads(run("envs", "show", "echo", "--json", "--samples", "1").stdout)
    assert shown["reward_range"] == [0.0, 1.0]
    assert set(shown["config_schema"]["properties"]) == {"size", "sleep"}
    assert shown["samples"] == [
        {"id": "train-0", "prompt": [{"role": "user", "content": "say 0"}], "answer": "0", "info": {}}
    ]


def test_envs_show_describes_rows_config_fields_and_samples():
    text = run("envs", "show", "math.procedural", "--samples", "3").stdout
    assert "Row fields" in text and "answer      required    the reference answer" in text
    assert "example row: " in text
    fields = {line.split()[0]: line for line in text.splitlines() if line.startswith("  grading.")}
    assert fields["grading.rel_tol"].split()[1:4] == ["float", "0.0001", "relative"]
    assert "seed" in text and "difficulty" in text
    assert text.count("    prompt (user") == 3
    assert "$schema" not in text and '"properties"' not in text  # not a raw JSON Schema
    assert "Example samples" not in run("envs", "show", "math", "--samples", "0").stdout


def test_envs_show_says_why_samples_are_unavailable():
    text = run("envs", "show", "code").stdout
    assert "Example samples: unavailable (code: set `data`" in text
    assert "info.cases         one of 1" in text


def test_check_passes_for_a_good_env_and_fails_for_a_bad_one(echo_host):
    assert run("check", "echo").exit_code == 0
    failing = run("check", "echo", "--set", "size=0")
    assert failing.exit_code == 1
    assert "FAIL dataset('train') is non-empty" in failing.stdout


def test_console_script_runs_with_real_entry_points(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "a b c d", "answer": 4}])
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardkit.cli",
            "score",
            "wordcount",
            "--input",
            str(source),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["score"] == 1.0


def test_score_to_a_pipe_does_not_import_rich(tmp_path):
    # rich only draws the progress bar on a terminal; importing it costs ~50 ms of every `score` run.
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "a b c", "answer": 3}])
    argv = ["score", "wordcount", "--input", str(source), "--output", str(tmp_path / "o")]
    probe = (
        "import sys\nfrom rewardkit.cli.main import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('rich' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False", done.stdout + done.stderr
    assert json.loads((tmp_path / "o").read_text())["score"] == 1.0


def test_plugin_commands_run_and_are_listed_against_their_plugin():
    from rewardkit.host import reset_host

    reset_host()
    assert run("sandbox", "tag").stdout.startswith("rewardkit-sandbox:")
    plugins = {row["name"]: row for row in json.loads(run("plugins", "--json").stdout)}
    assert plugins["sandbox"]["commands"] == ["sandbox"]
    assert "train" in plugins["trainer"]["commands"]
    assert {"sandbox", "train", "score"} <= set(cli.list_commands(None))
