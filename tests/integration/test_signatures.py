"""Electronic signatures as operations: the ceremony, the gates, the order of steps, who may sign, the
signing keys, and two signers racing for the last step. Real keys, certificates and time-stamps, on
SQLite and PostgreSQL (21 CFR 11.10(f)(g)(i)(j), 11.100(b), 11.200, 11.300; ER/ES; Annex 11 §14)."""
from __future__ import annotations

import dataclasses
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from edms.application import access, accounts
from edms.audit.models import AuditEvent
from edms.crypto.keywrap import WrongPassword, unwrap_user_key
from edms.db import make_engine, transaction
from edms.documents import models as dm
from edms.documents.operations import revise
from edms.signatures import gates, totp
from edms.signatures.errors import AccountLocked, CredentialsRefused, GateRecordRefused, InvalidRequest, NotReady
from edms.signatures.keys import current_credential
from edms.signatures.models import Signature, SigningCredential
from edms.signatures.presentation import current_trust
from edms.signatures.totp_secrets import sealing_key, secret_of
from edms.signatures.verification import verify_stored
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.operations import create_user
from edms.users.profiles import Profile
from edms.workflow.refusals import AuthorityRefused, SequenceRefused
from tests.conftest import PASSWORD
from tests.integration.signing_fixtures import OOS, SESSION_REF, context

NEW_PASSWORD = "Another-Secret-2027!"


def events(story, action: str) -> list[AuditEvent]:
    with story.sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def count_signatures(story) -> int:
    with story.sessions() as session:
        return session.scalar(select(func.count()).select_from(Signature))


def verdict(story, signature: Signature):
    with story.sessions() as session:
        return verify_stored(session, session.get(Signature, signature.id), current_trust(session, story.settings))


def credentials_of(story, person: User) -> list[SigningCredential]:
    with story.sessions() as session:
        return session.scalars(select(SigningCredential).where(SigningCredential.user_id == person.id)
                               .order_by(SigningCredential.id)).all()


# --- the whole story -----------------------------------------------------------------------------------


@pytest.mark.req("11.50(b)", "ERES-e-signature", "A11-14")
def test_an_oos_notification_is_authored_reviewed_and_approved_with_real_signatures(signing):
    authored, reviewed, approved = signing.sign_through()
    document = signing.document()
    assert document.status == dm.APPROVED and document.latest.status == dm.APPROVED
    assert [s.meaning for s in (authored, reviewed, approved)] == ["authored", "reviewed", "approved"]
    for signature in (authored, reviewed, approved):
        result = verdict(signing, signature)
        assert result.ok, result.text
    # Name, time and meaning are in the signed bytes and in the audit trail.
    manifest = json.loads(approved.manifest)
    signed_as = (manifest["signer_printed_name"], manifest["meaning"], manifest["step"])
    assert signed_as == ("Hiroshi Yamamoto", "approved", "qa_approval")
    assert manifest["content_sha256"] == document.latest.content_sha256
    signed = events(signing, "signature.signed")
    assert len(signed) == 3
    recorded = json.loads(signed[-1].changes)["signature"]["new"]
    assert recorded["printed_name"] == "Hiroshi Yamamoto" and recorded["meaning"] == "approved"
    assert recorded["signed_at"] == manifest["signed_at"] and recorded["signature_id"] == approved.signature_id
    assert len(events(signing, "document.approved")) == 1


# --- gates ---------------------------------------------------------------------------------------------


@pytest.mark.req("11.100(b)", "11.10(j)", "11.10(i)")
def test_signing_is_refused_until_identity_policy_and_training_are_in_place(signing):
    signing.sign(signing.author)
    newcomer = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    with pytest.raises(NotReady) as refused:
        signing.sign(newcomer)
    assert [gate.code for gate in refused.value.missing] == ["identity", "policy", "training"]
    assert "second administrator records that your identity was verified" in str(refused.value)
    signing.verify_identity(newcomer)
    with pytest.raises(NotReady) as refused:
        signing.sign(newcomer)
    assert [gate.code for gate in refused.value.missing] == ["policy", "training"]
    assert "acknowledge the electronic signature policy" in str(refused.value)
    signing.acknowledge_policy(newcomer)
    with pytest.raises(NotReady, match="no current training record for signing as qa on oos_notification"):
        signing.sign(newcomer)
    signing.train(newcomer, "qa")
    assert signing.sign(newcomer).meaning == "reviewed"
    # Every refusal is in the audit trail, and nothing was signed meanwhile.
    assert len(events(signing, "signature.refused")) == 3
    assert count_signatures(signing) == 2


@pytest.mark.req("11.10(i)")
def test_training_must_be_current_and_for_this_role_and_document_type(signing):
    signing.sign(signing.author)
    person = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    signing.verify_identity(person)
    signing.acknowledge_policy(person)
    signing.train(person, "qa", trained_on=utc_now().date() - timedelta(days=400), days_valid=365)  # expired
    signing.train(person, "qa", document_type="deviation_report")  # another document type
    signing.train(person, "author")  # another role
    with pytest.raises(NotReady, match="training"):
        signing.sign(person)
    signing.train(person, "qa", document_type=None)  # every document type
    assert signing.sign(person).signer_id == person.id


@pytest.mark.req("11.100(b)")
def test_only_a_second_administrator_records_the_identity_check(signing):
    with transaction(signing.sessions) as session:
        creator = session.get(User, signing.admin.id)
        created = create_user(session, context(creator), signing.settings.password, username="yui.kobayashi",
                              profile=Profile(printed_name="Yui Kobayashi", timezone="Asia/Tokyo"), roles={"qa"},
                              password=PASSWORD, must_change_password=False)
    with pytest.raises(GateRecordRefused, match="You created this account"):
        signing.verify_identity(created, by=signing.admin)
    with pytest.raises(GateRecordRefused, match="Only an administrator"):
        signing.verify_identity(created, by=signing.reviewer)
    signing.verify_identity(created, by=signing.second_admin)
    recorded = events(signing, "signature.identity_verified")[-1]
    assert recorded.actor_id == signing.second_admin.id and recorded.object_id == str(created.id)
    assert "Passport" in recorded.changes


@pytest.mark.req("11.10(j)")
def test_the_policy_acknowledgement_is_stored_once_and_audited(signing):
    person = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    signing.acknowledge_policy(person)
    signing.acknowledge_policy(person)
    acknowledged = [e for e in events(signing, "signature.policy_acknowledged") if e.object_id == str(person.id)]
    assert len(acknowledged) == 1
    assert gates.load_policy().sha256 in acknowledged[0].changes


@pytest.mark.req("11.10(i)")
def test_training_is_recorded_by_administrators_or_qa_never_by_oneself(signing):
    person = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    with transaction(signing.sessions) as session:
        qa = session.get(User, signing.reviewer.id)
        gates.record_training(session, context(qa), qa, session.get(User, person.id), role="qa", document_type=OOS,
                              known_types=signing.document_types, course="SOP QA-014 v3",
                              trained_on=utc_now().date(), valid_until=utc_now().date() + timedelta(days=365))
    for recorder, message in ((signing.author, "Only administrators and quality assurance"), (person, "own training")):
        with pytest.raises(GateRecordRefused, match=message), transaction(signing.sessions) as session:
            gates.record_training(session, context(recorder), session.get(User, recorder.id), session.get(User, person.id),
                                  role="qa", document_type=None, known_types=signing.document_types, course="SOP",
                                  trained_on=utc_now().date(), valid_until=utc_now().date())
    assert len([e for e in events(signing, "signature.training_recorded") if e.object_id == str(person.id)]) == 1


@pytest.mark.req("11.200(a)(2)-(3)")
def test_no_key_is_ever_issued_under_a_password_an_administrator_set(signing, app):
    services = app.extensions["edms"]
    signing.sign(signing.author)
    with transaction(signing.sessions) as session:
        accounts.reset_password(services, session, context(signing.admin), session.get(User, signing.reviewer.id),
                                "Temporary-Pass-2026", "forgot the password",
                                actor=session.get(User, signing.admin.id), actor_password=PASSWORD)
    with pytest.raises(NotReady, match="temporary password an administrator set"):
        signing.sign(signing.reviewer, password="Temporary-Pass-2026")
    assert credentials_of(signing, signing.reviewer) == []


# --- the ceremony ----------------------------------------------------------------------------------------


@pytest.mark.req("11.200(a)(1)")
def test_first_signing_in_a_session_needs_both_components_then_the_password_alone(signing):
    second = signing.new_oos()
    with pytest.raises(CredentialsRefused, match="first signature of a session needs both"):
        signing.sign(signing.author, username=None, session_ref=SESSION_REF)
    first = signing.sign(signing.author, session_ref=SESSION_REF)
    assert first.session_ref == SESSION_REF
    assert signing.sign(signing.author, username=None, session_ref=SESSION_REF, document_id=second.id)
    # A new session (after sign-out or time-out) has a new id: both components again.
    other_session = signing.new_oos()
    with pytest.raises(CredentialsRefused, match="needs both"):
        signing.sign(signing.author, username=None, session_ref="f" * 64, document_id=other_session.id)
    # The API has no continuous session: both components every time.
    with pytest.raises(CredentialsRefused, match="needs both"):
        signing.sign(signing.author, username=None, session_ref=None, document_id=other_session.id)


@pytest.mark.req("11.200(a)(1)", "11.300(d)")
def test_wrong_credentials_sign_nothing_are_audited_and_lock_the_account(signing):
    policy = signing.settings.password
    with pytest.raises(CredentialsRefused, match="not correct: nothing was signed"):
        signing.sign(signing.author, password="Not-The-Password-1")
    with pytest.raises(CredentialsRefused):
        signing.sign(signing.author, username="akiko.tanaka")  # the password is Kenji's, the name is not
    assert count_signatures(signing) == 0
    failed = events(signing, "auth.failed")
    assert [e.object_id for e in failed] == [str(signing.author.id)] * 2
    assert all("signature" in e.reason for e in failed)
    refused = events(signing, "signature.refused")
    assert len(refused) == 2 and "wrong password" in refused[0].reason and "user name" in refused[1].reason
    for _ in range(policy.lockout_threshold - 3):
        with pytest.raises(CredentialsRefused):
            signing.sign(signing.author, password="Not-The-Password-1")
    with pytest.raises(AccountLocked, match="administrators have been alerted"):
        signing.sign(signing.author, password="Not-The-Password-1")
    locked = events(signing, "auth.locked")
    assert [e.object_id for e in locked] == [str(signing.author.id)]
    with pytest.raises(AccountLocked):
        signing.sign(signing.author)  # even the right password signs nothing now
    assert count_signatures(signing) == 0


@pytest.mark.req("11.200(a)(1)")
def test_a_role_listed_in_totp_roles_signs_with_a_one_time_code(signing):
    signing.settings = dataclasses.replace(signing.settings, totp_roles=("qa",))
    signing.sign(signing.author)  # authors need no code
    with pytest.raises(NotReady, match="one-time code as a second factor"):
        signing.sign(signing.reviewer)
    with transaction(signing.sessions) as session:
        reviewer = session.get(User, signing.reviewer.id)
        key = sealing_key(signing.settings)
        secret = secret_of(key, gates.start_totp_enrolment(session, context(reviewer), reviewer, key))
    with pytest.raises(GateRecordRefused, match="code is not correct"), transaction(signing.sessions) as session:
        gates.confirm_totp(session, context(signing.reviewer), session.get(User, signing.reviewer.id), "000000",
                           key)
    with transaction(signing.sessions) as session:
        gates.confirm_totp(session, context(signing.reviewer), session.get(User, signing.reviewer.id),
                           totp.hotp(secret, totp.counter_at(utc_now()) - 1), key)
    with pytest.raises(CredentialsRefused):
        signing.sign(signing.reviewer)  # no code
    with pytest.raises(CredentialsRefused):
        signing.sign(signing.reviewer, totp_code=totp.hotp(secret, totp.counter_at(utc_now()) - 5))  # expired
    code = totp.hotp(secret, totp.counter_at(utc_now()) + 1)
    assert signing.sign(signing.reviewer, totp_code=code).meaning == "reviewed"
    later = signing.new_oos()
    signing.sign(signing.author, document_id=later.id)
    with pytest.raises(CredentialsRefused):
        signing.sign(signing.reviewer, totp_code=code, document_id=later.id)  # the same code twice: replay
    assert events(signing, "signature.totp_enrolled")


# --- order and authority -----------------------------------------------------------------------------------


@pytest.mark.req("11.10(f)")
def test_approving_before_the_review_is_refused_and_audited(signing):
    signing.sign(signing.author)
    with pytest.raises(SequenceRefused, match="Approved by QA is not due yet: Reviewed by QA must be signed first"):
        signing.sign(signing.approver, meaning="approved")
    refused = events(signing, "signature.refused")[-1]
    assert refused.actor_id == signing.approver.id and "not due yet" in refused.reason
    assert count_signatures(signing) == 1


@pytest.mark.req("11.10(f)")
def test_a_superseded_or_draft_version_cannot_be_signed(signing):
    signing.sign(signing.author)
    with transaction(signing.sessions) as session:
        author = session.get(User, signing.author.id)
        revise(session, context(author), author, signing.document_types[OOS],
               session.get(dm.Document, signing.document_id), "Retest result added to the investigation summary")
    with pytest.raises(SequenceRefused, match="superseded"):
        signing.sign(signing.reviewer, version=1)
    with pytest.raises(SequenceRefused, match="draft"):
        signing.sign(signing.author, version=2)


@pytest.mark.req("11.10(g)")
def test_the_author_of_a_document_cannot_approve_it(signing):
    writer = signing.people.make("emi.nakamura", "qa", printed_name="Emi Nakamura")
    signing.make_ready(writer, "qa")
    original, signing.author = signing.author, writer
    own = signing.new_oos()
    signing.author = original
    signing.sign(signing.author, document_id=own.id)
    signing.sign(signing.reviewer, document_id=own.id)
    with pytest.raises(AuthorityRefused, match="author of a document cannot approve it"):
        signing.sign(writer, document_id=own.id)
    assert signing.sign(signing.approver, document_id=own.id).meaning == "approved"


@pytest.mark.req("11.10(g)")
def test_one_person_cannot_sign_two_steps_of_a_version(signing):
    signing.sign(signing.author)
    signing.sign(signing.reviewer)
    with pytest.raises(AuthorityRefused, match="one person may not sign two of its steps"):
        signing.sign(signing.reviewer)


@pytest.mark.req("11.10(g)", "PICS-9.5")
def test_administrators_and_inspectors_can_never_sign(signing):
    signing.sign(signing.author)
    inspector = signing.people.make("john.carter", "inspector", printed_name="John Carter")
    for person in (signing.admin, inspector):
        with pytest.raises(AuthorityRefused, match="can never sign"):
            signing.sign(person)
    assert count_signatures(signing) == 1


@pytest.mark.req("11.10(f)")
def test_two_signers_completing_the_last_step_at_once_make_one_approval(signing):
    third = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    signing.make_ready(third, "qa")
    signing.sign(signing.author)
    signing.sign(signing.reviewer)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def race(person):
        start.wait()
        try:
            outcomes[person.username] = signing.sign(person)
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            outcomes[person.username] = exc

    threads = [threading.Thread(target=race, args=(person,)) for person in (signing.approver, third)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    won = [o for o in outcomes.values() if isinstance(o, Signature)]
    lost = [o for o in outcomes.values() if not isinstance(o, Signature)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], SequenceRefused)
    assert len(events(signing, "document.approved")) == 1
    assert signing.document().latest.status == dm.APPROVED
    assert len([s for s in signing.signatures() if s.step == "qa_approval"]) == 1


@pytest.mark.req("11.50(a)", "11.10(f)")
def test_a_refusal_is_a_signed_act_with_a_mandatory_reason(signing):
    signing.sign(signing.author)
    with pytest.raises(InvalidRequest, match="reason is required"):
        signing.sign(signing.reviewer, kind="reject", reason="  ")
    refusal = signing.sign(signing.reviewer, kind="reject",
                           reason="The risk assessment does not address the CRS risk of the lower viable dose.")
    assert refusal.kind == "rejection" and verdict(signing, refusal).ok
    assert json.loads(refusal.manifest)["comment"].startswith("The risk assessment")
    document = signing.document()
    assert document.status == dm.REJECTED and document.latest.status == dm.REJECTED
    assert events(signing, "document.rejected")[-1].reason.startswith("The risk assessment")
    with pytest.raises(SequenceRefused, match="refused"):
        signing.sign(signing.approver)


# --- keys and certificates --------------------------------------------------------------------------------


@pytest.mark.req("11.200(a)(2)-(3)")
def test_the_key_opens_only_with_the_signers_own_password_and_follows_a_password_change(signing, app):
    services = app.extensions["edms"]
    signing.sign(signing.author)
    [credential] = credentials_of(signing, signing.author)
    assert unwrap_user_key(credential.wrapped_key, PASSWORD)
    for guess in ("Admin-Pass-2026!", "", credential.serial_hex):
        with pytest.raises(WrongPassword):
            unwrap_user_key(credential.wrapped_key, guess)
    with transaction(signing.sessions) as session:
        access.change_own_password(services, session, context(signing.author), session.get(User, signing.author.id),
                                   PASSWORD, NEW_PASSWORD)
    [rewrapped] = credentials_of(signing, signing.author)
    assert rewrapped.serial_hex == credential.serial_hex and rewrapped.wrapped_key != credential.wrapped_key
    with pytest.raises(WrongPassword):
        unwrap_user_key(rewrapped.wrapped_key, PASSWORD)
    later = signing.new_oos()
    made = signing.sign(signing.author, password=NEW_PASSWORD, document_id=later.id)
    assert made.credential_id == credential.id and verdict(signing, made).ok
    assert events(signing, "signature.key_rewrapped")


@pytest.mark.req("11.200(a)(2)-(3)", "11.300(c)")
def test_an_administrators_reset_revokes_the_certificate_and_the_person_gets_a_new_one(signing, app):
    services = app.extensions["edms"]
    first = signing.sign(signing.author)
    [old] = credentials_of(signing, signing.author)
    with transaction(signing.sessions) as session:
        accounts.reset_password(services, session, context(signing.admin), session.get(User, signing.author.id),
                                "Temporary-Pass-2026", "locked out on night shift",
                                actor=session.get(User, signing.admin.id), actor_password=PASSWORD)
    [revoked] = credentials_of(signing, signing.author)
    assert revoked.revoked_at is not None and revoked.wrapped_key == b""  # the key is destroyed
    assert revoked.revocation_reason == "password reset by an administrator"
    with transaction(signing.sessions) as session:
        access.change_own_password(services, session, context(signing.author), session.get(User, signing.author.id),
                                   "Temporary-Pass-2026", NEW_PASSWORD)
    later = signing.new_oos()
    made = signing.sign(signing.author, password=NEW_PASSWORD, document_id=later.id)
    new = credentials_of(signing, signing.author)[-1]
    assert made.credential_id == new.id and new.serial_hex != old.serial_hex
    assert verdict(signing, first).ok, "a signature made before the revocation stays valid"
    assert verdict(signing, made).ok


@pytest.mark.req("11.300(c)", "11.100(a)")
def test_deactivation_revokes_the_certificate_without_invalidating_earlier_signatures(signing, app):
    services = app.extensions["edms"]
    made = signing.sign(signing.author)
    with transaction(signing.sessions) as session:
        accounts.deactivate(services, session, context(signing.admin), session.get(User, signing.author.id),
                            "left the company")
    [credential] = credentials_of(signing, signing.author)
    assert credential.revoked_at is not None
    with signing.sessions() as session:
        assert current_credential(session, session.get(User, signing.author.id)) is None
    assert verdict(signing, made).ok
    with pytest.raises(AuthorityRefused, match="deactivated"):
        signing.sign(signing.author)


# --- append-only ---------------------------------------------------------------------------------------------


@pytest.mark.req("11.10(c)", "11.70")
def test_signatures_and_signing_rights_cannot_be_changed_or_deleted_even_with_sql(signing, app):
    services = app.extensions["edms"]
    made = signing.sign(signing.author)
    signing.people.make("yui.kobayashi", "qa")
    engine = make_engine(signing.settings.database_url)
    refused = [
        "UPDATE signatures SET meaning = 'approved'",
        "DELETE FROM signatures",
        "UPDATE identity_verifications SET method = 'none'",
        "DELETE FROM signature_policy_acknowledgements",
        "UPDATE training_records SET valid_until = valid_until",
        "DELETE FROM training_records",
        "DELETE FROM signing_credentials",
        "UPDATE signing_credentials SET certificate = certificate || certificate",
        "UPDATE signing_credentials SET user_id = user_id + 1",
    ]
    for statement in refused:
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text(statement))
    with transaction(signing.sessions) as session:
        accounts.deactivate(services, session, context(signing.admin), session.get(User, signing.author.id),
                            "left the company")
    for statement in ("UPDATE signing_credentials SET revoked_at = NULL",
                      "UPDATE signing_credentials SET revocation_reason = 'never happened'"):
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()
    assert [s.signature_id for s in signing.signatures()] == [made.signature_id]
