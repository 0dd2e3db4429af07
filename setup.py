"""The wheel's packages: the code under edms/, plus the top-level resource folders mapped inside it.

The source tree keeps templates/, forms/, migrations/, config/ and docs/ at its top level; the wheel
carries them as edms/shipped/<folder>/ so an installed edms finds them without a checkout (see
edms/resources.py). Everything else about the build is declared in pyproject.toml; the packages and their
data files live here because pyproject.toml can neither add packages to those it finds nor glob package
names (and its package-data table would replace, not extend, the one given here).
"""
from pathlib import Path

from setuptools import find_namespace_packages, setup

# Folder -> the files of it (and of each folder below it) that the wheel carries.
RESOURCES = {
    "templates": ["*.html"],
    "forms": ["*.toml"],
    "migrations": ["*.py", "*.mako"],
    "config": ["*.toml"],
    "docs": ["e-signature-policy.md"],
}


def mapped_packages() -> dict[str, str]:
    """edms.shipped.<folder>[.<subfolder>...] -> its directory in the source tree."""
    mapping: dict[str, str] = {}
    for folder in RESOURCES:
        top = Path(folder)
        for directory in [top, *sorted(path for path in top.rglob("*") if path.is_dir())]:
            if directory.name != "__pycache__":
                mapping[".".join(("edms", "shipped", *directory.parts))] = directory.as_posix()
    return mapping


MAPPED = mapped_packages()
setup(
    packages=find_namespace_packages(include=["edms", "edms.*"]) + list(MAPPED),
    package_dir=MAPPED,
    package_data={
        "edms": ["static/**/*", "translations/**/*"],
        **{package: RESOURCES[package.split(".")[2]] for package in MAPPED},
    },
)
