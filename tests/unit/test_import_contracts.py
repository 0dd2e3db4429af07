"""The layer order stays true (issue #11): import-linter checks the contracts in pyproject.toml, and no module
imports by string, which the contracts could not see."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import edms

PACKAGE = Path(edms.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def _lint(config: Path) -> int:
    # In a process of its own: import-linter reconfigures logging in the process it runs in, which would
    # silence the "edms" logger for the tests that run after this one in the same worker.
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(config), "--no-cache"]
    return subprocess.run(command, cwd=PACKAGE.parent, capture_output=True, check=False).returncode


def test_every_import_contract_in_pyproject_is_kept():
    assert _lint(PYPROJECT) == 0, "a layer contract is broken: run .venv/bin/lint-imports to see which import"


def test_the_contract_check_sees_the_imports_it_judges(tmp_path):
    # A contract the code certainly breaks (the audit trail stamps every event with utc_now) must fail, so
    # that the test above cannot pass by analysing nothing.
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "edms"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "deliberately broken"\ntype = "forbidden"\nsource_modules = ["edms.audit"]\n'
                      'forbidden_modules = ["edms.timeutil"]\n', encoding="utf-8")
    assert _lint(config) == 1


def _imports_by_string(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in ("import_module", "__import__"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "importlib" and any(
                alias.name == "import_module" for alias in node.names):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_no_module_of_edms_imports_by_string():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _imports_by_string(path)]
    assert offenders == []
