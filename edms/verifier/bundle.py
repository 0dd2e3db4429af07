"""The verifier as one file a recipient runs with Python and `cryptography` alone: a zipapp (PEP 441,
`python edms_verify.pyz PACKAGE.zip`) of this package's source.

The archive is deterministic (sorted entries, fixed timestamps and permissions), so the same source
always gives the same bytes and the same SHA-256 in the package's manifest.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

ZIPAPP_NAME = "edms_verify.pyz"
_SHEBANG = b"#!/usr/bin/env python3\n"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a ZIP can hold
_MAIN = b"import sys\n\nfrom edms.verifier.cli import main\n\nsys.exit(main())\n"
_PARENT = b'"""Only the offline verifier of edms, as shipped in an inspection package."""\n'


def zipapp_bytes() -> bytes:
    source = Path(__file__).parent
    entries = {"__main__.py": _MAIN, "edms/__init__.py": _PARENT}
    for path in sorted(source.glob("*.py")):
        entries[f"edms/verifier/{path.name}"] = path.read_bytes()
    buffer = io.BytesIO()
    buffer.write(_SHEBANG)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()
