"""The signature pages as people use them: the ceremony, refusals, and the pages that grant signing rights
(21 CFR 11.10(i)(j), 11.50, 11.100(b), 11.200(a)(1), 11.300(d))."""
from __future__ import annotations

import re

import pytest
from cryptography import x509
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.crypto.cms import signature_value
from edms.documents import models as dm
from edms.signatures import totp
from edms.signatures.models import IdentityVerification, PolicyAcknowledgement, Signature, TrainingRecord
from edms.timeutil import utc_now
from edms.users.models import User
from tests.conftest import PASSWORD, csrf_token, sign_in


def count(story, model) -> int:
    with story.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def actions(story, action: str) -> list[AuditEvent]:
    with story.sessions() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def sign_page(client, document_id: int, kind: str = "sign"):
    return client.get(f"/documents/{document_id}/versions/1/{kind}")


def post_ceremony(client, document_id: int, kind: str = "sign", **fields):
    page = sign_page(client, document_id, kind).get_data(as_text=True)
    step = re.search(r'name="step" type="hidden" value="([^"]*)"', page)
    data = {"csrf_token": csrf_token(page), "step": step.group(1) if step else "", **fields}
    return client.post(f"/documents/{document_id}/versions/1/{kind}", data=data)


def sign_out(client):
    page = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(page)})


@pytest.mark.req("11.200(a)(1)", "11.50(a)")
def test_the_ceremony_shows_what_is_signed_and_asks_for_both_components_at_the_first_signing_only(signing, client):
    signing.sign(signing.author)
    sign_in(client, "akiko.tanaka")
    detail = client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    assert 'id="sign-version"' in detail and "Sign: Reviewed by QA" in detail
    page = sign_page(client, signing.document_id).get_data(as_text=True)
    version = signing.document().latest
    for shown in (version.content_sha256, "Reviewed by QA", "Reviewed", "L2026-0412", "72.0", "Akiko Tanaka (akiko.tanaka)"):
        assert shown in page
    assert 'name="username"' in page and "first signature in this session" in page
    refused = post_ceremony(client, signing.document_id, password=PASSWORD)
    assert refused.status_code == 401 and "needs both" in refused.get_data(as_text=True)
    assert count(signing, Signature) == 1
    signed = post_ceremony(client, signing.document_id, username="akiko.tanaka", password=PASSWORD,
                           comment="Investigation and risk assessment reviewed against the batch record.")
    assert signed.status_code == 302 and "#signature-" in signed.headers["Location"]
    shown = client.get(signed.headers["Location"]).get_data(as_text=True)
    assert "Signed. Your signature is shown below" in shown and "Akiko Tanaka (akiko.tanaka)" in shown
    assert "Investigation and risk assessment reviewed" in shown
    # The next signature in the same session: the password alone.
    second = signing.new_oos()
    signing.sign(signing.author, document_id=second.id)
    page = sign_page(client, second.id).get_data(as_text=True)
    assert 'name="username"' not in page and "your password is enough" in page
    assert post_ceremony(client, second.id, password=PASSWORD).status_code == 302
    # After signing out, a new session: both components again.
    sign_out(client)
    sign_in(client, "akiko.tanaka")
    third = signing.new_oos()
    signing.sign(signing.author, document_id=third.id)
    assert 'name="username"' in sign_page(client, third.id).get_data(as_text=True)
    assert post_ceremony(client, third.id, password=PASSWORD).status_code == 401


@pytest.mark.req("11.300(d)", "11.200(a)(1)")
def test_wrong_passwords_at_the_ceremony_sign_nothing_and_lock_the_account_and_alert_administrators(signing, client, app):
    signing.sign(signing.author)
    sign_in(client, "akiko.tanaka")
    threshold = signing.settings.password.lockout_threshold
    for _attempt in range(threshold):
        response = post_ceremony(client, signing.document_id, username="akiko.tanaka", password="Not-The-Password-1")
        assert response.status_code == 401
        body = response.get_data(as_text=True)
        assert "nothing was signed" in body
    assert "locked" in body and "administrators have been alerted" in body
    assert count(signing, Signature) == 1
    assert len([e for e in actions(signing, "auth.failed") if e.object_id == str(signing.reviewer.id)]) == threshold
    # The locked person is signed out; the administrators see the alert where they look first.
    assert client.get("/").status_code == 302
    admin = app.test_client()
    sign_in(admin, "daisuke.kato")
    home = admin.get("/").get_data(as_text=True)
    alerts = home.split('id="security-alerts"')[1]
    # The event by its label and the account by its user name, never a row id (issue 12).
    assert 'data-action="auth.locked"' in alerts and "Account locked" in alerts
    with app.extensions["edms"].sessions() as session:
        assert session.get(User, signing.reviewer.id).username in alerts


@pytest.mark.req("11.50(a)", "11.10(f)")
def test_a_refusal_on_the_page_needs_a_reason_and_rejects_the_version(signing, client):
    signing.sign(signing.author)
    sign_in(client, "akiko.tanaka")
    missing = post_ceremony(client, signing.document_id, "reject", username="akiko.tanaka", password=PASSWORD)
    assert missing.status_code == 400 and count(signing, Signature) == 1
    refused = post_ceremony(client, signing.document_id, "reject", username="akiko.tanaka", password=PASSWORD,
                            reason="Risk assessment omits the CRS risk of the lower viable dose.")
    assert refused.status_code == 302
    page = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Refused to sign: Reviewed" in page and "Risk assessment omits the CRS risk" in page
    assert signing.document().status == dm.REJECTED


@pytest.mark.req("11.10(j)")
def test_the_policy_page_records_the_acknowledgement_once(signing, client):
    newcomer = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    sign_in(client, "yui.kobayashi")
    page = client.get("/signatures/policy").get_data(as_text=True)
    assert "legally binding" in page and "電子署名" in page and 'id="acknowledge-form"' in page
    client.post("/signatures/policy", data={"csrf_token": csrf_token(page)})  # box not ticked
    assert count(signing, PolicyAcknowledgement) == 3  # the story's three signers only
    done = client.post("/signatures/policy", data={"csrf_token": csrf_token(page), "confirm": "y"})
    assert done.status_code == 302
    assert "current version acknowledged" in client.get("/signatures/readiness").get_data(as_text=True)
    assert [e.object_id for e in actions(signing, "signature.policy_acknowledged")][-1] == str(newcomer.id)


@pytest.mark.req("11.100(b)")
def test_an_identity_check_is_recorded_by_a_second_administrator_on_the_page(signing, app):
    first = app.test_client()
    sign_in(first, "daisuke.kato")
    page = first.get("/admin/users/new").get_data(as_text=True)
    created = first.post("/admin/users/new", data={
        "csrf_token": csrf_token(page), "username": "yui.kobayashi", "printed_name": "Yui Kobayashi",
        "timezone": "Asia/Tokyo", "language": "en", "roles": ["qa"], "password": "Initial-Pass-2026!"})
    user_id = int(created.headers["Location"].rsplit("/", 1)[1])
    form = first.get(f"/signatures/people/{user_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(form), "method": "In person, photo ID",
            "evidence": "My Number card checked against HR record HR-2026-120"}
    refused = first.post(f"/signatures/people/{user_id}/identity", data=data, follow_redirects=True)
    assert "You created this account" in refused.get_data(as_text=True)
    second = app.test_client()
    sign_in(second, "emi.suzuki")
    form = second.get(f"/signatures/people/{user_id}").get_data(as_text=True)
    assert "not yet recorded" in form
    recorded = second.post(f"/signatures/people/{user_id}/identity", data={**data, "csrf_token": csrf_token(form)},
                           follow_redirects=True).get_data(as_text=True)
    assert "identity verification is recorded" in recorded and "In person, photo ID" in recorded
    qa = app.test_client()
    sign_in(qa, "akiko.tanaka")
    assert qa.post(f"/signatures/people/{user_id}/identity", data=data).status_code in (400, 403)
    with signing.sessions() as session:
        checks = session.scalars(select(IdentityVerification).where(IdentityVerification.user_id == user_id)).all()
    assert [c.verified_by for c in checks] == [signing.second_admin.id]


@pytest.mark.req("11.10(i)")
def test_quality_assurance_records_training_on_the_page(signing, client):
    newcomer = signing.people.make("yui.kobayashi", "qa", printed_name="Yui Kobayashi")
    sign_in(client, "akiko.tanaka")
    assert "Yui Kobayashi" in client.get("/signatures/people").get_data(as_text=True)
    form = client.get(f"/signatures/people/{newcomer.id}").get_data(as_text=True)
    assert 'id="identity-form"' not in form  # identity checks are for administrators
    today = utc_now().date()
    saved = client.post(f"/signatures/people/{newcomer.id}/training", data={
        "csrf_token": csrf_token(form), "role": "qa", "document_type": "oos_notification",
        "course": "SOP QA-014 v3: electronic signatures", "trained_on": today.isoformat(),
        "valid_until": today.replace(year=today.year + 1).isoformat()}, follow_redirects=True).get_data(as_text=True)
    assert "training record is saved" in saved and "SOP QA-014 v3" in saved and "current" in saved
    own = client.get(f"/signatures/people/{signing.reviewer.id}").get_data(as_text=True)
    refused = client.post(f"/signatures/people/{signing.reviewer.id}/training", data={
        "csrf_token": csrf_token(own), "role": "qa", "document_type": "", "course": "Self-study",
        "trained_on": today.isoformat(), "valid_until": today.isoformat()}, follow_redirects=True)
    assert "Nobody records their own training" in refused.get_data(as_text=True)
    with signing.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TrainingRecord)
                              .where(TrainingRecord.user_id == newcomer.id)) == 1


@pytest.mark.req("11.200(a)(1)")
def test_an_authenticator_app_is_enrolled_on_the_page(signing, client):
    sign_in(client, "akiko.tanaka")
    page = client.get("/signatures/totp").get_data(as_text=True)
    client.post("/signatures/totp", data={"csrf_token": csrf_token(page), "action": "start"})
    page = client.get("/signatures/totp").get_data(as_text=True)
    secret = totp.from_base32(re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1))
    assert "otpauth://totp/" in page
    with signing.sessions() as session:  # stored sealed under the server key, never in clear
        from sqlalchemy import text

        stored = session.execute(text("SELECT secret_base32 FROM totp_enrolments")).scalar_one()
    assert totp.to_base32(secret) not in stored and len(stored) == 64
    now = totp.counter_at(utc_now())
    valid = {totp.hotp(secret, counter) for counter in range(now - 1, now + 3)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in valid)
    refused = client.post("/signatures/totp", data={"csrf_token": csrf_token(page), "code": wrong,
                                                       "password": PASSWORD}, follow_redirects=True)
    assert "code is not correct" in refused.get_data(as_text=True)
    code = totp.totp(secret, utc_now())
    done = client.post("/signatures/totp", data={"csrf_token": csrf_token(page), "code": code,
                                                    "password": PASSWORD}, follow_redirects=True)
    assert "authenticator app is enrolled" in done.get_data(as_text=True)
    assert actions(signing, "signature.totp_enrolled")


@pytest.mark.req("11.30", "11.50(b)")
def test_the_signature_page_offers_the_exact_stored_bytes_for_checking_with_openssl(signing, client):
    made = signing.sign(signing.author)
    sign_in(client, "akiko.tanaka")
    page = client.get(f"/signatures/{made.signature_id}").get_data(as_text=True)
    assert "openssl cms -verify" in page and "Kenji Sato" in page and "valid" in page
    base = f"/signatures/{made.signature_id}"
    assert client.get(f"{base}/manifest.json").data == made.manifest
    assert client.get(f"{base}/signature.p7s").data == made.cms
    assert client.get(f"{base}/timestamp.tsr").data == made.timestamp_response
    assert client.get(f"{base}/signature-value.bin").data == signature_value(made.cms)
    assert len(x509.load_pem_x509_certificates(client.get(f"{base}/chain.pem").data)) == 3


@pytest.mark.req("11.10(g)")
def test_inspectors_read_signatures_but_never_sign(signing, client):
    made = signing.sign(signing.author)
    signing.people.make("john.carter", "inspector", printed_name="John Carter", timezone="America/New_York")
    sign_in(client, "john.carter")
    detail = client.get(f"/documents/{signing.document_id}").get_data(as_text=True)
    assert made.signature_id in detail and 'id="sign-version"' not in detail
    assert "EST (UTC-05:00)" in detail  # the inspector's own zone, with the zone
    assert client.get(f"/signatures/{made.signature_id}").status_code == 200
    assert sign_page(client, signing.document_id).status_code == 403
    assert client.post(f"/documents/{signing.document_id}/versions/1/sign", data={}).status_code in (400, 403)
