"""Where transactions end and where Flask lives (issue #11): views never commit or roll back, the one unit of
work does; Flask is imported by the web and API layers only."""
from __future__ import annotations

import ast
from pathlib import Path

import edms

PACKAGE = Path(edms.__file__).parent


def _modules(*names: str) -> list[Path]:
    found: list[Path] = []
    for name in names:
        path = PACKAGE / name
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def _calls(path: Path, *methods: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(PACKAGE)}:{node.lineno}" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_page_api_route_cli_command_or_inspection_module_commits_or_rolls_back_itself():
    offenders = [call for path in _modules("web", "api", "cli", "inspection", "demo.py", "demo_cases.py")
                 for call in _calls(path, "commit", "rollback")]
    assert offenders == []


def test_flask_is_imported_by_the_web_and_api_layers_only():
    outside = [path for path in PACKAGE.rglob("*.py")
               if path.relative_to(PACKAGE).parts[0] not in ("web", "api", "app.py")
               and any(name == "flask" or name.startswith(("flask.", "flask_")) for name in _imports(path))]
    assert outside == []


def test_the_application_layer_knows_nothing_of_flask_or_the_web():
    for path in _modules("application"):
        assert not any(name.startswith(("flask", "edms.web", "edms.api")) for name in _imports(path)), path
