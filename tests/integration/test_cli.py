"""The console: init, demo, user create with the password on standard input."""
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from edms.users.models import User

EDMS = [sys.executable, "-m", "edms.cli"]


def run(args, env, stdin=""):
    return subprocess.run(EDMS + args, input=stdin, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli_env(settings):
    return {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
            "EDMS_DATA_DIR": str(settings.data_dir)}


@pytest.mark.req("11.100(a)")
def test_user_create_reads_the_password_from_stdin_and_the_account_is_ready(app, cli_env, client):
    result = run(["user", "create", "emi.nakamura", "--name", "Emi Nakamura", "--role", "qa",
                  "--email", "emi@example.org", "--password-stdin"], cli_env, stdin="Operator-Chosen-2026\n")
    assert result.returncode == 0, result.stderr
    with app.extensions["edms"].sessions() as session:
        user = session.scalar(select(User).where(User.username == "emi.nakamura"))
    assert user.printed_name == "Emi Nakamura" and not user.must_change_password
    response = client.post("/api/v1/auth/token", json={"username": "emi.nakamura", "password": "Operator-Chosen-2026"})
    assert response.status_code == 201
    again = run(["user", "create", "emi.nakamura", "--name", "Someone Else", "--role", "qa", "--password-stdin"],
                cli_env, stdin="Operator-Chosen-2026\n")
    assert again.returncode != 0 and "never be issued again" in again.stderr


def test_demo_creates_one_person_per_role_and_a_signed_oos_case_per_regime(app, cli_env, organisation_pki):
    from edms.cases.models import Case
    from edms.signatures.models import Signature

    first = run(["demo"], cli_env)
    assert first.returncode == 0, first.stderr
    for role in ("author", "qa", "physician", "regulatory", "inspector", "admin"):
        assert role in first.stdout
    assert "Demo OOS cases" in first.stdout
    with app.extensions["edms"].sessions() as session:
        assert {case.jurisdiction for case in session.scalars(select(Case))} == {"EU", "US", "JP"}
        # One case per regime the demo is carried through: JP current and proposed, US, US emergency, EU.
        assert sorted(case.regime_key for case in session.scalars(select(Case))) == [
            "eu", "jp_current", "jp_proposed", "us", "us_emergency"]
        assert len(session.scalars(select(Signature)).all()) >= 12
    second = run(["demo"], cli_env)
    assert second.returncode == 0 and "[exists]" in second.stdout


def test_init_migrates_an_empty_database(tmp_path):
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATA_DIR": str(tmp_path), "EDMS_DATABASE_URL": ""}
    result = run(["init"], env)
    assert result.returncode == 0, result.stderr
    assert "empty ->" in result.stdout
    assert (tmp_path / "edms.sqlite3").exists()


def test_edms_demo_signs_through_the_use_cases_so_its_signatures_notify_the_next_signers(app, cli_env, organisation_pki):
    from edms.documents.models import APPROVED, DocumentVersion
    from edms.notifications.models import Notification

    result = run(["demo"], cli_env)
    assert result.returncode == 0, result.stderr
    with app.extensions["edms"].sessions() as session:
        kinds = {(n.document_id, n.kind) for n in session.scalars(select(Notification))}
        approved = session.scalars(select(DocumentVersion.document_id).where(DocumentVersion.status == APPROVED)).all()
    assert approved, "the demo approves the manufacturer's records"
    # The owner of each approved record is told, as after a signature in the pages or the API.
    assert all((document_id, "approved") in kinds for document_id in approved)
    assert any(kind == "task" for _document_id, kind in kinds)
