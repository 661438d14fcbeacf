"""Packaging promises: a light import, the public API, the folder -> package mapping."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

import rewardkit

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["torch", "transformers", "sympy", "docker", "vllm", "datasets", "rich"]


def test_import_is_light():
    # How long it takes is measured by benchmarks/import_time.py; here: nothing heavy is imported.
    probe = f"import sys, rewardkit; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_episode_api_loads_on_first_use():
    probe = (
        "import sys, rewardkit; loaded = 'rewardkit.episodes' in sys.modules; "
        "print(loaded, rewardkit.EpisodeEnvironment.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "rewardkit.episodes.contract"]


def test_public_api_names():
    for name in [
        "Environment",
        "EnvConfig",
        "EnvMetadata",
        "Sample",
        "RewardResult",
        "Message",
        "user",
        "system",
        "assistant",
        "hookimpl",
        "Rubric",
        "load_environment",
        "list_environments",
        "get_plugins",
    ]:
        assert hasattr(rewardkit, name), name
    from rewardkit.testing import check_environment

    assert callable(check_environment)


def test_folders_map_onto_one_package():
    import rewardkit.plugins
    import rewardkit.sandbox
    import rewardkit.trainer

    # Strict editable installs reach the folders through a tree of links; the links resolve to them.
    assert str(Path(rewardkit.__file__).resolve()).endswith("core/__init__.py")
    assert str(Path(rewardkit.plugins.__file__).resolve()).endswith("plugins/__init__.py")
    assert str(Path(rewardkit.sandbox.__file__).resolve()).endswith("sandbox/__init__.py")
    assert str(Path(rewardkit.trainer.__file__).resolve()).endswith("trainer/__init__.py")


def test_package_list_names_every_package_folder():
    """pyproject.toml lists the packages explicitly; a new package folder must be added there to ship."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {folder: package for package, folder in config["package-dir"].items()}
    on_disk = {
        ".".join([folders[top.name], *folder.relative_to(top).parts])
        for top in (ROOT / folder for folder in folders)
        for folder in [top, *top.rglob("*")]
        if folder.is_dir() and "__pycache__" not in folder.parts
    }
    assert sorted(config["packages"]) == sorted(on_disk)


def test_the_testing_kit_does_not_reach_into_the_sandbox():
    probe = (
        "import sys, rewardkit.testing; print([m for m in sys.modules if m.startswith('rewardkit.sandbox')])"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    import rewardkit.sandbox.testing as sandbox_testing  # the fixtures' one home
    import rewardkit.testing as kit

    assert callable(sandbox_testing.sandbox_fixture) and not hasattr(kit, "sandbox_fixture")


def test_wheel_maps_the_folders_and_declares_the_bundled_entry_points(tmp_path):
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    egg_info = repo / "rewardkit.egg-info"
    existed = egg_info.exists()
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                str(repo),
                "--no-deps",
                "--no-build-isolation",
                "--quiet",
                "-w",
                str(tmp_path),
            ],
            check=True,
            capture_output=True,
        )
    finally:
        # setuptools writes it into the tree; left there, a later change of entry points would be shadowed
        # by this copy for every process started in the repository root.
        if not existed:
            shutil.rmtree(egg_info, ignore_errors=True)
    wheel = zipfile.ZipFile(next(tmp_path.glob("rewardkit-*.whl")))
    names = set(wheel.namelist())
    for path in [
        "rewardkit/__init__.py",
        "rewardkit/py.typed",
        "rewardkit/plugins/math/__init__.py",
        "rewardkit/sandbox/__init__.py",
        "rewardkit/trainer/__init__.py",
        "rewardkit/cli/templates/module.py.tmpl",
        "rewardkit/plugins/judge/demo.json",
    ]:
        assert path in names, path
    assert not any(name.startswith(("core/", "plugins/", "sandbox/", "trainer/")) for name in names)
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "math = rewardkit.plugins.math" in entry_points
    assert "rewardkit = rewardkit.cli.main:main" in entry_points


def test_bundled_plugins_keep_their_public_names_loaded_on_first_use():
    probe = """
import importlib, sys
for package in ("format", "language", "ifeval"):
    module = importlib.import_module(f"rewardkit.plugins.{package}")
    before = sorted(m for m in sys.modules if m.startswith(module.__name__ + "."))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    print(package, before, missing)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["format [] []", "language [] []", "ifeval [] []"]
    from rewardkit.plugins.format import split_think
    from rewardkit.plugins.ifeval import IFEval, evaluate
    from rewardkit.plugins.language import language_id

    assert split_think("<think>a</think>b") is not None and callable(language_id) and callable(evaluate)
    assert IFEval.name == "ifeval"
