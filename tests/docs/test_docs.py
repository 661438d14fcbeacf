"""Every fenced block of README.md and docs/ runs or is validated: a documented example cannot silently break.

- bash: each command runs against the installed CLI in a scratch folder with small inputs (a `score --input`
  file that does not exist is written from the environment's example row); `rewardkit train` and
  `rewardkit serve` run with `--check`, `rewardkit vllm-serve` with `--dry-run`, `make T` as `make -n T`,
  `python benchmarks/X.py` as `--help` (every documented option must be listed),
  `accelerate launch ... -m rewardkit.trainer.cli` as
  `train --check` of its config.
- python: each block runs as a script of its own.
- yaml: a run config (`model` + `environments`, or a pipeline's `stages`) is checked like `train --check`; a
  `rubric` is built; an eval config (a block opening with `# rewardkit eval`) is validated with its
  environments and rewards; a serve config (`environments` alone) is validated and its environments looked up.
- toml / json: parsed.

A block that must not run in CI (a GPU-only or hour-long command) is marked on the line before its fence:
`<!-- docs-test: skip (why) -->`. New pages under docs/ are picked up without any change here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomllib
import yaml
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\s*(?:\((?P<reason>.*)\))?\s*-->\s*$")
RUN_LANGUAGES = {"bash", "sh", "shell", "python", "yaml", "toml", "json"}
LINKED = ("configs", "benchmarks", "examples", "scripts", "Makefile", "pyproject.toml")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence
    language: str
    text: str
    skip: str | None  # the reason, when marked

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found, lines = [], page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = opening.group(1)
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
        marker = SKIP.match(lines[index - 1].strip()) if index else None
        skip = (marker.group("reason") or "") if marker else None
        text = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end]) + "\n"
        found.append(Block(page, index + 1, opening.group(2).lower(), text, skip))
        index = end + 1
    return found


ALL = [block for page in PAGES for block in blocks(page)]
RUNNABLE = [block for block in ALL if block.language in RUN_LANGUAGES]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A scratch folder that sees the repository's configs, benchmarks and examples, as the docs assume."""
    for name in LINKED:
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: f"{b.where}:{b.language}")
def test_documented_block(block, workdir):
    if block.skip is not None:
        assert block.skip.strip(), (
            f"{block.where}: say why the block is skipped: <!-- docs-test: skip (why) -->"
        )
        pytest.skip(f"marked in the docs: {block.skip}")
    {
        "bash": run_shell,
        "sh": run_shell,
        "shell": run_shell,
        "python": run_python,
        "yaml": check_yaml,
        "toml": lambda b, _: tomllib.loads(b.text),
        "json": lambda b, _: json.loads(b.text),
    }[block.language](block, workdir)


def test_the_readme_opens_with_its_two_commands():
    first = blocks(REPO / "README.md")[0]
    commands = [line.split("#")[0].strip() for line in first.text.splitlines() if line.strip()]
    assert (first.language, commands) == ("bash", ["make quickstart", "make test"])


def test_skip_markers_are_rare_and_explained():
    skipped = [block for block in ALL if block.skip is not None]
    assert all(block.skip.strip() for block in skipped), [b.where for b in skipped if not b.skip.strip()]
    assert len(skipped) <= max(3, len(RUNNABLE) // 8), [b.where for b in skipped]


# -- shell ---------------------------------------------------------------------------------------------
def commands(text: str) -> list[list[str]]:
    joined = re.sub(r"\\\n", " ", text)
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def run_shell(block: Block, workdir: Path) -> None:
    for line in commands(block.text):
        argv = line[next(i for i, word in enumerate(line) if "=" not in word) :]  # past `NAME=value`s
        handler = SHELL.get(argv[0])
        if handler is None:
            pytest.fail(
                f"{block.where}: no way to check `{argv[0]}` here; add one to tests/docs/test_docs.py, "
                "or mark the block <!-- docs-test: skip (why) -->"
            )
        handler(argv, block, workdir)


def run_rewardkit(argv: list[str], block: Block, workdir: Path) -> None:
    from rewardkit.cli.main import cli

    args = argv[1:]
    if args[:1] in (["train"], ["serve"]) and "--check" not in args:
        args.append("--check")  # validated, not run: training takes minutes, a server runs until stopped
    if args[:1] == ["vllm-serve"] and "--dry-run" not in args:
        args.insert(args.index("--") if "--" in args else len(args), "--dry-run")  # no server is started
    if args[:1] == ["score"] and "--input" in args:
        _example_input(args[1], workdir / args[args.index("--input") + 1])
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, (
        f"{block.where}: `{shlex.join(argv)}` failed:\n{result.output}{result.exception}"
    )


def _example_input(env_name: str, path: Path) -> None:
    if path.exists():
        return
    from rewardkit.host import get_host

    example = get_host().environment(env_name).cls.sample_format.example
    assert example is not None, f"{env_name} declares no example row to score in the docs' command"
    path.write_text(json.dumps(example) + "\n")


def run_python_command(argv: list[str], block: Block, workdir: Path) -> None:
    """`python -m rewardkit.trainer.cli ARGS` is `rewardkit train ARGS`; `python SCRIPT.py` a benchmark."""
    if argv[1:3] == ["-m", "rewardkit.trainer.cli"]:
        run_rewardkit(["rewardkit", "train", *argv[3:]], block, workdir)
    elif argv[1].endswith(".py"):
        run_benchmark(argv, block, workdir)
    else:
        pytest.fail(f"{block.where}: no way to check `{shlex.join(argv)}`; mark the block or add a handler")


def run_accelerate(argv: list[str], block: Block, workdir: Path) -> None:
    """`accelerate launch --config_file F -m rewardkit.trainer.cli ARGS`: F exists, ARGS pass --check."""
    if "--config_file" in argv:
        assert (workdir / argv[argv.index("--config_file") + 1]).is_file(), block.where
    module = argv.index("-m")
    run_python_command(["python", *argv[module:]], block, workdir)


def run_benchmark(argv: list[str], block: Block, workdir: Path) -> None:
    """`python benchmarks/X.py --opt V`: the script exists and lists every option the docs use."""
    script = argv[1]
    done = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{block.where}: {script} --help failed: {done.stderr[-2000:]}"
    for option in (arg.split("=")[0] for arg in argv[2:] if arg.startswith("--")):
        assert option in done.stdout, f"{block.where}: {script} has no option {option}"


def run_make(argv: list[str], block: Block, workdir: Path) -> None:
    done = subprocess.run(["make", "-n", *argv[1:]], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{block.where}: make -n {' '.join(argv[1:])}: {done.stderr}"


def check_pip(argv: list[str], block: Block, workdir: Path) -> None:
    """`pip install 'rewardkit[a,b]'`: every extra exists."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for arg in argv[2:]:
        if arg.startswith("rewardkit["):
            missing = set(arg[len("rewardkit[") : -1].split(",")) - set(extras)
            assert not missing, f"{block.where}: rewardkit has no extra(s) {sorted(missing)}"


def check_source(argv: list[str], block: Block, workdir: Path) -> None:
    """`source .venv/bin/activate`: what `make setup` creates."""
    assert argv[1] == ".venv/bin/activate", block.where
    assert "VENV := .venv" in (REPO / "Makefile").read_text()


SHELL = {
    "rewardkit": run_rewardkit,
    "python": run_python_command,
    "accelerate": run_accelerate,
    "make": run_make,
    "pip": check_pip,
    "source": check_source,
}


# -- python and yaml -----------------------------------------------------------------------------------
def run_python(block: Block, workdir: Path) -> None:
    script = workdir / "snippet.py"
    script.write_text(block.text)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=240
    )
    assert done.returncode == 0, f"{block.where}: the snippet failed:\n{done.stderr[-3000:]}"


def check_eval_config(data: dict) -> None:
    """Valid config; installed environments; registered rubric rewards."""
    from rewardkit.evaluation import parse_eval_config
    from rewardkit.host import get_host
    from rewardkit.loading import make_rubric

    for env in parse_eval_config(data).environments:
        get_host().environment(env.name)
        if env.rubric:
            make_rubric(env.rubric)


def check_yaml(block: Block, workdir: Path) -> None:
    from rewardkit.loading import make_rubric

    data = yaml.safe_load(block.text)
    if block.text.lstrip().startswith("# rewardkit eval"):  # an eval config (docs/eval.md)
        check_eval_config(data)
    elif isinstance(data, dict) and set(data) == {"eval"}:  # a training config's eval block
        from rewardkit.evaluation.config import TrainEvalConfig

        TrainEvalConfig.model_validate(data["eval"])
    elif isinstance(data, dict) and "stages" in data:  # a pipeline (docs/pipeline.md)
        from rewardkit.trainer.pipeline import parse_pipeline
        from rewardkit.trainer.pipeline.config import check_environments_of

        check_environments_of(parse_pipeline(data))
    elif isinstance(data, dict) and "model" in data and "environments" in data:
        from rewardkit.trainer.config import parse_config
        from rewardkit.trainer.envs import check_environments

        check_environments(parse_config(data).environments)
    elif isinstance(data, dict) and "environments" in data:  # a serve config (docs/serve.md)
        from rewardkit.host import get_host
        from rewardkit.serve.config import parse_serve_config

        for env in parse_serve_config(data).environments:
            get_host().environment(env.name)
    elif isinstance(data, dict) and "rubric" in data:
        make_rubric(data["rubric"])
    elif isinstance(data, dict) and "model" in data:
        from rewardkit.trainer.config import ModelConfig

        ModelConfig.model_validate(data["model"])
