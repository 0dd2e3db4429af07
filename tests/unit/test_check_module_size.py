"""Modules stay small enough to hold in one's head: the size check names every module over 500 lines,
and passes the shipped package once the long modules are split (issue 11)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_module_size.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


def _module(path: Path, lines: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"x{index} = {index}\n" for index in range(lines)), encoding="utf-8")


def test_a_module_of_exactly_500_lines_passes_with_one_ok_line(tmp_path):
    _module(tmp_path / "pkg" / "small.py", 500)
    result = _run(str(tmp_path))
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1 and "OK" in result.stdout


def test_every_module_over_500_lines_is_named_with_its_line_count(tmp_path):
    _module(tmp_path / "long.py", 501)
    _module(tmp_path / "pkg" / "longer.py", 873)
    _module(tmp_path / "pkg" / "fine.py", 12)
    result = _run(str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / 'long.py'}: 501 lines" in result.stderr
    assert f"{tmp_path / 'pkg' / 'longer.py'}: 873 lines" in result.stderr
    assert "fine.py" not in result.stderr


def test_the_split_modules_are_within_the_limit():
    root = SCRIPT.parents[1] / "edms"
    for module in ("cases/regimes", "documents/types", "documents/renditions"):
        assert _run(str(root / module)).returncode == 0, module
