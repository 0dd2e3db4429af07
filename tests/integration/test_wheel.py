"""The wheel carries everything edms reads at run time inside the package: an install has no checkout.

The wheel is built once per module from a copy of the sources (never from the checkout itself, whose
build/ folder could smuggle in stale files). scripts/wheel_smoke.sh, run by .ci/run, goes further: it
installs the wheel in a fresh virtual environment and serves the demo from it.
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import edms.resources

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "edms", "templates", "forms", "migrations", "config", "docs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(work / "dist"), str(source)],
                   check=True, capture_output=True, timeout=300)
    (built,) = (work / "dist").glob("edms-*.whl")
    return built


@pytest.fixture(scope="module")
def names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def shipped(folder: str, pattern: str) -> set[str]:
    """Where the wheel must carry each source-tree file of folder matching pattern."""
    found = {f"edms/shipped/{path.relative_to(ROOT).as_posix()}" for path in (ROOT / folder).glob(pattern)}
    assert found, f"nothing matches {folder}/{pattern} in the source tree"
    return found


def test_the_wheel_carries_every_template_document_type_regime_and_configuration_file(names):
    for folder, pattern in (("templates", "**/*.html"), ("forms", "*.toml"), ("forms", "regimes/*.toml"),
                            ("config", "*.toml")):
        assert shipped(folder, pattern) <= names, f"{folder}/{pattern}"


def test_the_wheel_carries_the_migrations_alembic_runs(names):
    assert shipped("migrations", "versions/*.py") <= names
    assert {"edms/shipped/migrations/env.py", "edms/shipped/migrations/script.py.mako"} <= names


def test_the_wheel_carries_the_e_signature_policy_signers_acknowledge_and_no_other_document(names):
    assert {name for name in names if name.startswith("edms/shipped/docs/")} == {
        "edms/shipped/docs/e-signature-policy.md"}


def test_the_wheel_carries_every_module_of_the_code_and_the_compiled_translations(names):
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "edms").rglob("*.py")
               if "__pycache__" not in path.parts}
    assert modules - names == set()
    assert "edms/translations/ja/LC_MESSAGES/messages.mo" in names
    assert "edms/static/css/edms.css" in names


def test_an_installed_package_finds_its_resources_inside_itself(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site-packages")
    # -S: no site-packages, so neither the checkout nor its editable install can answer the import.
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import edms.resources as r; "
             "print(r.ROOT); assert all(p.exists() for p in (r.TEMPLATES_DIR / 'auth' / 'login.html', "
             "r.FORMS_DIR / 'regimes', r.MIGRATIONS_DIR / 'env.py', r.CONFIG_DIR / 'default.toml', "
             "r.SIGNATURE_POLICY_FILE))")
    result = subprocess.run([sys.executable, "-S", "-c", probe, str(tmp_path / "site-packages")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == tmp_path / "site-packages" / "edms" / "shipped"


def test_a_checkout_and_its_editable_install_find_the_resources_at_the_top_of_the_source_tree():
    assert edms.resources.ROOT == ROOT
    assert edms.resources.TEMPLATES_DIR == ROOT / "templates"
    assert edms.resources.SIGNATURE_POLICY_FILE == ROOT / "docs" / "e-signature-policy.md"
