"""Maps the architecture folders onto one import package; all other metadata is in pyproject.toml."""

from setuptools import find_packages, setup

FOLDERS = {
    "rewardkit": "core",
    "rewardkit.plugins": "plugins",
    "rewardkit.sandbox": "sandbox",
    "rewardkit.trainer": "trainer",
}

packages = [
    name
    for package, folder in FOLDERS.items()
    for name in (package, *(f"{package}.{sub}" for sub in find_packages(folder)))
]

setup(packages=packages, package_dir=FOLDERS)
