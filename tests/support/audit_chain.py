"""The audit chain checked as an operator checks it (`edms verify`), and kept one line while inspectors' reads
(each one recording its access) and another user's changes commit at the same time (21 CFR 11.10(e), WITNESS)."""
from __future__ import annotations

import threading

from click.testing import CliRunner

from edms.audit import AuditContext, record
from edms.cli import main
from edms.db import transaction

QA = AuditContext(user_id=None, user_name="Akiko Tanaka", client_addr="10.0.0.5")


def edms_verify(settings):
    """The real command, as an operator runs it."""
    env = {"EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url, "EDMS_DATA_DIR": str(settings.data_dir)}
    return CliRunner().invoke(main, ["verify"], env=env)


def another_writer_commits(app, number: int) -> None:
    """A QA user's change, committed by another unit of work (another request, another node)."""
    with transaction(app.extensions["edms"].sessions) as session:
        record(session, QA, "document.updated", "document", f"DOC-{number:04d}",
               changes={"title": {"old": f"草案 {number}", "new": f"Batch record {number}"}}, reason="Correction")


def reads_beside_writers(app, headers: dict[str, str], *, readers: int, reads: int, writes: int) -> list[int]:
    """`readers` threads each GET /api/v1/me `reads` times with `headers` while two writers each commit `writes`
    changes (another_writer_commits, DOC-1000... and DOC-2000...). Returns the statuses answered, once every thread
    has ended without an error."""
    statuses: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        client = app.test_client()
        try:
            for _ in range(reads):
                statuses.append(client.get("/api/v1/me", headers=headers).status_code)
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    def write(first: int) -> None:
        try:
            for number in range(first, first + writes):
                another_writer_commits(app, number)
        except BaseException as error:  # noqa: BLE001 (reported below)
            failures.append(error)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    threads += [threading.Thread(target=write, args=(1000 * n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return statuses


def verified_and_witnessed(settings) -> None:
    """`edms verify` passes and finds no record left unwitnessed."""
    result = edms_verify(settings)
    assert result.exit_code == 0, result.output
    assert "unwitnessed" not in result.output.lower()
