"""Where a case stands, as its picture's model: the demo's cases, built as `edms demo` builds them, as flows
of records (done, open, blocked, not needed, and who acts next) and deadlines on a time line, changing as
records are signed (issue 12, "Seeing where a case stands")."""
from __future__ import annotations

from sqlalchemy import select

from edms.application import drafting, signing
from edms.application.case_picture import BLOCKED, DONE, NOT_NEEDED, OPEN, TO_CREATE, TO_SIGN, case_picture
from edms.audit import AuditContext
from edms.cases import models as cm
from edms.cases.queries import case_status
from edms.db import transaction
from edms.demo import DEMO_PASSWORD, create_demo_users
from edms.demo_cases import create_demo_cases
from edms.documents import models as dm
from edms.signatures.ceremony import Credentials
from edms.timeutil import utc_now
from edms.users.models import User
from edms.workflow.refusals import SigningRefused


def build_demo(app):
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        create_demo_users(services, session)
    with transaction(services.sessions) as session:
        create_demo_cases(services, session, DEMO_PASSWORD)


def picture_of(app, lot):
    services = app.extensions["edms"]
    with services.sessions() as session:
        case = session.scalars(select(cm.Case).where(cm.Case.lot == lot)).one()
        now = utc_now()
        status = case_status(session, case, services.document_types, services.regimes, now)
        return case_picture(session, case, status, document_types=services.document_types, now=now)


def test_the_picture_shows_each_record_done_open_or_blocked_with_who_acts_next_and_follows_the_signatures(
        app, organisation_pki):
    build_demo(app)
    picture = picture_of(app, "U2026-0311")
    # The manufacturer's OOS notification is signed by the demo; it is the first column of the flow.
    oos = picture.node("oos_notification")
    assert (oos.state, oos.column, len(oos.numbers)) == (DONE, 0, 1)
    # The deviation report and the Letter of Authorization wait for their writers, named by role.
    deviation = picture.node("deviation_report")
    assert (deviation.state, deviation.waiting_for, deviation.roles) == (OPEN, TO_CREATE, ("author",))
    # The physician's justification is hers to write: the picture names her, not just the role.
    justification = picture.node("physician_justification")
    assert justification.state == OPEN and justification.people == ("Emily Chen, MD",)
    # The release is blocked by what is missing, and says so in both languages.
    release = picture.node("qa_release")
    assert release.state == BLOCKED and release.reasons
    assert all(reason.en and reason.ja for reason in release.reasons)
    assert release.column > justification.column
    # Records a regime needs only on an answer not given yet are not "not needed" yet.
    assert picture.counts()[NOT_NEEDED] == sum(1 for n in picture.nodes if n.state == NOT_NEEDED)
    # The time line has the case's deadlines (the per-record ones come with their records), with their state
    # and time left in both languages; the 30-day wait is a "not before" mark waiting for FDA's receipt.
    wait = next(mark for mark in picture.marks if mark.key == "treatment_not_before_30_days")
    assert wait.not_before and wait.due_at is None
    assert all(mark.human.en and mark.human.ja for mark in picture.marks)
    assert picture.site_zone == "America/Chicago"


def test_a_record_in_review_shows_the_step_due_and_moves_to_done_when_its_last_step_is_signed(app, organisation_pki):
    build_demo(app)
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        # QC writes and submits the JP case's deviation report.
        case = session.scalars(select(cm.Case).where(cm.Case.lot == "L2026-0412")).one()
        kenji = session.scalars(select(User).where(User.username == "kenji.sato")).one()
        document = drafting.create_document(services, session, AuditContext(kenji.id, kenji.printed_name), kenji,
                                            "deviation_report", title="Deviation: viability", case_id=case.id,
                                            raw_values=DEVIATION)
        drafting.submit(services, session, AuditContext(kenji.id, kenji.printed_name), kenji, document)
        document_id = document.id
    node = picture_of(app, "L2026-0412").node("deviation_report")
    assert (node.state, node.waiting_for) == (OPEN, TO_SIGN)
    first_step = node.step
    assert first_step is not None and first_step.en
    signed = sign_every_step(app, document_id)
    assert signed >= 2
    node = picture_of(app, "L2026-0412").node("deviation_report")
    assert node.state == DONE and node.step is None and node.roles == ()


DEVIATION = {
    "lot": "L2026-0412",
    "description": "Post-thaw viability of lot L2026-0412 was 72.0 % against a release limit of ≥ 80 %.",
    "detection": "Release testing by flow cytometry two days ago; confirmed on the retained sample.",
    "impact": "Lower viable dose; no safety specification is affected.",
    "root_cause": "Low baseline quality of the apheresis material.",
    "corrective_actions": "Lot quarantined pending the physician's request and QA release.",
    "preventive_actions": "Apheresis acceptance criteria to include a pre-collection lymphocyte count.",
    "capa_reference": "CAPA-2026-0031",
}


def sign_every_step(app, document_id: int) -> int:
    """Each due step signed by a demo person who may sign it, through the signing use case; how many signed."""
    services = app.extensions["edms"]
    candidates = ("kenji.sato", "naoko.ito", "akiko.tanaka", "hiroshi.yamamoto")
    count = 0
    for _ in range(6):
        progressed = False
        for username in candidates:
            with transaction(services.sessions) as session:
                document = session.get(dm.Document, document_id)
                if document.latest.status != dm.IN_REVIEW:
                    return count
                person = session.scalars(select(User).where(User.username == username)).one()
                try:
                    signing.sign(services, session, AuditContext(person.id, person.printed_name), person, document,
                                 document.latest, Credentials(password=DEMO_PASSWORD, username=username))
                except SigningRefused:  # not this person's step; the next may sign it
                    continue
                count += 1
                progressed = True
        if not progressed:
            break
    return count


def test_the_case_page_draws_the_picture_as_accessible_svg_that_links_each_written_record(app, client,
                                                                                          organisation_pki):
    from tests.conftest import sign_in

    build_demo(app)
    picture = picture_of(app, "E2026-0107")
    assert sign_in(client, "akiko.tanaka", DEMO_PASSWORD).status_code == 302
    with app.extensions["edms"].sessions() as session:
        case_id = session.scalar(select(cm.Case.id).where(cm.Case.lot == "E2026-0107"))
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert html.index('id="case-picture"') < html.index('id="checklist"')  # the picture leads, the text follows
    for svg in ("case-flow", "case-timeline"):
        assert f'id="{svg}" class="{svg}" role="img"' in html
        assert f'aria-labelledby="{svg}-title {svg}-desc"' in html and f'<desc id="{svg}-desc">' in html
    assert f'<title id="case-flow-title">Records of case {picture.reference}</title>' in html
    oos = picture.node("oos_notification")
    assert f'<a href="/documents/{oos.document_ids[-1]}"><g id="picture-node-oos_notification"' in html
    assert 'data-state="done"' in html and "✓ Done" in html  # the state in words and a symbol, not colour alone
    assert 'data-state="blocked"' in html and "✕ Blocked" in html
