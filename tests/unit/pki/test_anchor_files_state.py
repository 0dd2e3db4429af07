"""The trust anchors are read again when any file of the PKI directory changes (edms.pki.store.trust_anchors):
the files' state is read with os.scandir on every page that shows a signature, and must be what pathlib's
walk (the reference) finds: nested directories, links to files followed, links to directories not entered,
broken links skipped, hidden files included."""
from __future__ import annotations

import os
from pathlib import Path

from edms.pki.store import _files_state


def _reference(path: Path):
    return tuple(sorted((str(entry), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
                        for entry in path.rglob("*") if entry.is_file() for stat in (entry.stat(),)))


def test_the_pki_files_state_is_what_pathlibs_walk_finds(tmp_path):
    pki, elsewhere = tmp_path / "pki", tmp_path / "elsewhere"
    (pki / "keys" / "people").mkdir(parents=True)
    elsewhere.mkdir()
    (pki / "root.cert.pem").write_text("root")
    (pki / ".hidden").write_text("x")
    (pki / "keys" / "people" / "kenji.sato.key.pem").write_text("key")
    (elsewhere / "tsa-ca.pem").write_text("tsa ca")
    (elsewhere / "inner.pem").write_text("not under pki")
    os.symlink(elsewhere / "tsa-ca.pem", pki / "tsa-ca.pem")
    os.symlink(elsewhere, pki / "linked-directory")
    os.symlink(tmp_path / "missing.pem", pki / "broken.pem")

    state = _files_state(pki)
    assert state == _reference(pki)
    assert {Path(name).name for name, *_ in state} == {"root.cert.pem", ".hidden", "kenji.sato.key.pem", "tsa-ca.pem"}
    (pki / "root.cert.pem").write_text("root, rolled over")
    assert _files_state(pki) != state and _files_state(pki) == _reference(pki)


def test_a_single_file_and_a_missing_path(tmp_path):
    file = tmp_path / "tsa-ca.pem"
    file.write_text("tsa ca")
    assert _files_state(file)[0][:2] == ("tsa-ca.pem", 6)
    assert _files_state(tmp_path / "absent") == ()
