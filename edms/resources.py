"""Where the files that ship beside the code are: templates, forms, migrations, configuration, policy.

The source tree keeps them at its top level (templates/, forms/, migrations/, config/, docs/); the wheel
carries the same folders inside the package, under edms/shipped/, where setup.py maps them at build time.
A checkout, an editable install and an installed wheel therefore differ in this one place only.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_IN_WHEEL = _PACKAGE / "shipped"
ROOT = _IN_WHEEL if _IN_WHEEL.is_dir() else _PACKAGE.parent

TEMPLATES_DIR = ROOT / "templates"
FORMS_DIR = ROOT / "forms"
MIGRATIONS_DIR = ROOT / "migrations"
CONFIG_DIR = ROOT / "config"
SIGNATURE_POLICY_FILE = ROOT / "docs" / "e-signature-policy.md"
