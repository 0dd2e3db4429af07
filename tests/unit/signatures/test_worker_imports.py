"""A verification run's worker process (`edms.signatures.batch_check`, started fresh by `edms verify`) imports only
what judging a batch needs (issue #15: each worker's start is paid once per run, on every core): no SQLAlchemy,
and not the PKI store with the TSA, key wrapping and asn1crypto it brings; the trust state arrives as bytes."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "edms.pki", "edms.crypto", "asn1crypto", "flask", "edms.config", "edms.db")


def test_a_worker_imports_neither_the_database_layer_nor_the_pki_store():
    code = ("import json, sys; import edms.signatures.batch_check; "
            "print(json.dumps(sorted(name for name in sys.modules)))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                       text=True).stdout)
    assert [name for name in loaded if name.startswith(HEAVY)] == []
