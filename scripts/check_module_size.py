"""Fail when a Python module under edms/ is longer than a reader can hold in their head (issue 11).

Usage: python scripts/check_module_size.py [--limit 500] [ROOT]   (ROOT defaults to the checkout's edms/)
Exit 1 naming each module over the limit and its line count; otherwise one OK line and exit 0.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

LIMIT = 500
DEFAULT_ROOT = Path(__file__).resolve().parents[1] / "edms"


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _shown(path: Path) -> Path:
    """The path relative to the working directory when it is below it, as CI logs read best."""
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def oversized(root: Path, limit: int = LIMIT) -> list[tuple[Path, int]]:
    """Every module under `root` with more than `limit` lines, with its count, in path order."""
    counted = ((path, line_count(path)) for path in sorted(root.rglob("*.py")))
    return [(path, lines) for path, lines in counted if lines > limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--limit", type=int, default=LIMIT)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"check_module_size: {args.root} is not a directory", file=sys.stderr)
        return 2
    found = oversized(args.root, args.limit)
    for path, lines in found:
        print(f"{_shown(path)}: {lines} lines (limit {args.limit})", file=sys.stderr)
    if found:
        print(f"check_module_size: {len(found)} module(s) over {args.limit} lines; split them along their seams",
              file=sys.stderr)
        return 1
    print(f"check_module_size: OK, every module under {args.root} has at most {args.limit} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
