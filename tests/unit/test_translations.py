"""Every user-facing string is translatable and translated into Japanese (ER/ES legibility)."""
import io
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "edms/translations/ja/LC_MESSAGES/messages.po"
MO = ROOT / "edms/translations/ja/LC_MESSAGES/messages.mo"


@pytest.mark.req("ERES-legibility")
def test_every_extracted_string_has_a_japanese_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "N_",
         "-k", "lazy_gettext", "-o", str(pot), "--no-location", "--omit-header", "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    extracted = {m.id for m in read_po(pot.open("rb")) if m.id}
    catalogue = {m.id: m.string for m in read_po(PO.open("rb")) if m.id}
    untranslated = sorted(msgid if isinstance(msgid, str) else msgid[0]
                          for msgid in extracted if not catalogue.get(msgid))
    assert untranslated == [], "run scripts/i18n.sh and translate these"


def _plain(value):
    # Plural entries come as tuples from the .po reader and as lists from the .mo reader.
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_the_compiled_catalogue_matches_its_source():
    source = {_plain(m.id): _plain(m.string) for m in read_po(PO.open("rb")) if m.id and m.string}
    compiled = {_plain(m.id): _plain(m.string) for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert compiled == source, "run scripts/i18n.sh to recompile messages.mo"
