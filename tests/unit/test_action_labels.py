"""Every audit action edms records has a label for people (edms.audit.labels), in English and Japanese."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from edms.audit.labels import ACTION_LABELS, OBJECT_LABELS
from edms.wording import translate

ROOT = Path(__file__).resolve().parents[2] / "edms"
ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")


def recorded_actions() -> set[str]:
    """The action argument of every `record(session, ctx, "<action>", ...)` call in edms, and the
    notification outcomes recorded as f"notification.{status}"."""
    found = {"notification.sent", "notification.failed"}
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "record":
                for argument in node.args[2:3]:
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                        found.add(argument.value)
                    elif isinstance(argument, ast.IfExp):
                        found |= {part.value for part in (argument.body, argument.orelse)
                                  if isinstance(part, ast.Constant) and isinstance(part.value, str)}
    return {action for action in found if ACTION.match(action)}


@pytest.mark.req("ERES-legibility")
def test_every_recorded_action_has_a_label():
    actions = recorded_actions()
    assert {"signature.signed", "signature.rejected", "document.approved", "user.language_changed"} <= actions
    assert sorted(actions - set(ACTION_LABELS)) == [], "add a label in edms/audit/labels.py and run scripts/i18n.sh"


@pytest.mark.req("ERES-legibility")
def test_every_action_and_object_label_reads_in_japanese():
    for label in [*ACTION_LABELS.values(), *OBJECT_LABELS.values()]:
        assert translate(label, "ja") != label or label == "API", label
