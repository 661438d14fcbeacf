"""`rewardkit new` generates a package that installs, is discovered, and passes its own tests."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rewardkit.cli.main import cli


@pytest.mark.parametrize("flags", [[], ["--multi-turn"]], ids=["single-turn", "multi-turn"])
def test_generated_plugin_installs_and_passes_its_tests(tmp_path, flags):
    result = CliRunner().invoke(cli, ["new", "haiku_len", "--dir", str(tmp_path), *flags])
    assert result.exit_code == 0, result.output
    package = tmp_path / "rewardkit-haiku-len"
    assert {p.name for p in package.iterdir()} == {
        "pyproject.toml",
        "README.md",
        "rewardkit_haiku_len",
        "tests",
    }
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def test_refuses_bad_names_and_existing_folders(tmp_path):
    assert (
        "use lowercase letters" in CliRunner().invoke(cli, ["new", "Bad-Name", "--dir", str(tmp_path)]).stderr
    )
    CliRunner().invoke(cli, ["new", "dup", "--dir", str(tmp_path)])
    assert "already exists" in CliRunner().invoke(cli, ["new", "dup", "--dir", str(tmp_path)]).stderr
