"""The audit witness is one file shared by every app node (issue #16, WITNESS): two processes committing
audit events at the same time append their signed tree heads to the same file without tearing or
reordering a line, and the witness then proves every event."""
from __future__ import annotations

import subprocess
import sys

import pytest

from edms.audit.witness import TreeHead, read_heads
from edms.db import make_engine
from tests.support.server import edms_command, environment

EVENTS_PER_PROCESS = 25

# One app node's worth of wiring (build_services enables the witness), committing one audit event at a time.
APPEND = """
import sys
from edms.application.services import build_services
from edms.audit import AuditContext, record
from edms.config import load_settings
from edms.db import transaction

services = build_services(load_settings())
node = sys.argv[1]
ctx = AuditContext(user_id=None, user_name="node " + node, client_addr="127.0.0." + node)
for number in range(int(sys.argv[2])):
    with transaction(services.sessions) as session:
        record(session, ctx, "document.updated", "document", f"DOC-{node}-{number:03d}",
               changes={"title": {"old": None, "new": f"Batch record {number}"}}, reason="written by node " + node)
services.engine.dispose()
"""


@pytest.mark.req("WITNESS")
def test_two_processes_appending_at_once_leave_one_ordered_witness_that_proves_every_event(settings,
                                                                                          organisation_pki):
    env = environment(settings)
    nodes = [subprocess.Popen([sys.executable, "-c", APPEND, str(node), str(EVENTS_PER_PROCESS)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for node in (1, 2)]
    for process in nodes:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors.decode(errors="replace")
        assert b"could not be witnessed" not in errors

    heads = [TreeHead.from_line(line) for _, line in read_heads(settings.witness_path)]  # every line whole
    sizes = [head.tree_size for head in heads]
    assert sizes == sorted(set(sizes)), "tree heads out of order or repeated"
    for head in heads:
        head.resume()  # each frontier gives its signed root
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        total = connection.exec_driver_sql("SELECT COUNT(*) FROM audit_event").scalar_one()
    engine.dispose()
    assert sizes[-1] == total and total >= 2 * EVENTS_PER_PROCESS
    verified = edms_command(settings, "verify", timeout=300)
    assert verified.returncode == 0, verified.stdout + verified.stderr
