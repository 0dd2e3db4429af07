"""Done when (issue 12): the demo, as shipped, is carried through each of the five regimes (JP current, JP
proposed, US, US emergency, EU) by the demo people, from the case the demo opened to QA release, and the case
picture on the case page, in a real browser, follows it: after every record written and every record approved
the page is read again, the picture agrees with the checklist that follows it, the record's box moves (to write
→ to sign → done) and the count of records done never goes back; at the end the release is done and nothing
the release needs is left open or blocked.

The records are written and signed through the same use cases and signing ceremony as the pages (real keys,
certificates and RFC 3161 time-stamps, each step by a demo person the routing allows), because clicking
through every form here would only repeat the walks in test_case_walk_browser.py and
test_case_walk_regimes_browser.py; what this test adds is the picture, which it reads only in the browser.
The Japanese regimes are read in Japanese."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.cases.models import Case
from edms.demo import DEMO_PASSWORD, DEMO_PEOPLE
from edms.documents import models as dm
from edms.signatures import operations as sig_ops
from edms.signatures.ceremony import Credentials
from edms.users.models import User
from tests.browser.conftest import browser_sign_in, choose_language
from tests.browser.test_case_walk_browser import demo  # noqa: F401  (demo: fixture)
from tests.support.case_driver import CaseDriver
from tests.support.people import acting

pytestmark = pytest.mark.browser

LOTS = {"jp_current": "L2026-0412", "jp_proposed": "J2026-0088", "us": "U2026-0311", "us_emergency": "U2026-0344",
        "eu": "E2026-0107"}
PHYSICIANS = {"jp_current": "yuki.mori", "jp_proposed": "yuki.mori", "us": "emily.chen", "us_emergency": "emily.chen",
              "eu": "lukas.weber"}
JAPANESE = {"jp_current", "jp_proposed"}

# What each writer enters where the regime asks for a particular value (as in test_regimes_end_to_end.py).
VALUES: dict[str, dict[str, dict[str, object]]] = {
    "jp_current": {
        "regulatory_notification": {"authority": "pmda", "jurisdiction": "JP", "notified_at": "2026-04-10T10:00:00+09:00",
                                    "what_notified": "Clinical trial notification (治験計画届) of the CAR-T trial under "
                                                     "which the OOS lot is supplied."},
        "ethics_approval": {"committee_name": "Osaka University Hospital IRB (治験審査委員会)", "committee_type": "gcp_irb",
                            "review_type": "protocol_approval", "patient_ref": None, "decision": "approved",
                            "submitted_at": "2026-04-20T10:00:00+09:00"},
        "institution_head_approval": {"institution": "Osaka University Hospital", "decision": "approved",
                                      "head_name": "Director of Osaka University Hospital",
                                      "protocol_number": "CART-JP-301", "decided_on": "2026-05-14"},
    },
    "jp_proposed": {
        "supply_request": {"treating_site": "Kyoto University Hospital", "requested_at": "2026-11-07T10:00:00+09:00"},
        "ethics_approval": {"committee_name": "Kyoto University Hospital Ethics Committee",
                            "committee_reference": "R-2026-1188", "patient_ref": "PT-JP4821",
                            "submitted_at": "2026-11-06T10:00:00+09:00", "decision_date": "2026-11-07"},
    },
    "us": {
        "letter_of_authorization": {"physician_name": "Emily Chen, MD", "issued_on": "2026-09-24"},
        "physician_justification": {"urgency": "urgent"},
        "fda_acknowledgement": {"physician_name": "Emily Chen, MD", "submitted_at": "2026-09-30T15:00:00-05:00",
                                "fda_received_at": "2026-10-01T09:40:00-05:00", "earlier_treatment_allowed": False,
                                "earlier_treatment_allowed_at": None},
        "ethics_approval": {"committee_name": "MD Anderson IRB", "committee_type": "irb_21cfr56",
                            "committee_reference": "IRB-2026-0917", "review_type": "full_review", "decision": "approved",
                            "submitted_at": "2026-09-28T10:00:00-05:00", "decision_date": "2026-10-02"},
    },
    "us_emergency": {
        "physician_justification": {"urgency": "emergency"},
        "letter_of_authorization": {"physician_name": "Emily Chen, MD", "issued_on": "2026-11-09"},
        "fda_acknowledgement": {
            "physician_name": "Emily Chen, MD", "ind_number": "031902", "submitted_at": None, "fda_received_at": None,
            "earlier_treatment_allowed": False, "earlier_treatment_allowed_at": None,
            "emergency_telephone_authorization": True, "telephone_authorized_at": "2026-11-09T22:15:00-06:00",
            "fda_official": "CBER emergency IND duty officer",
            "telephone_details": "Dr Chen called FDA at 22:05; emergency use authorised at 22:15 with IND 031902."},
    },
    "eu": {
        "supply_request": {"treating_site": "Charité – Universitätsmedizin Berlin, CAR-T unit",
                           "requested_at": "2026-10-20T08:00:00+02:00", "planned_administration": "2026-10-24"},
        "physician_justification": {"urgency": "urgent"},
        "physician_acceptance": {"physician_name": "Dr. med. Lukas Weber", "received_at": "2026-10-20T17:30:00+02:00"},
    },
}
# Questions the case's people answer on the case page before the picture can tell what is needed.
ANSWERS = {"eu": [("manufacturer_is_not_mah", False, "akiko.tanaka")]}


class DemoDriver(CaseDriver):
    """tests/support/case_driver.py's driver with the demo's people and password: the people `edms demo` creates."""

    def people(self, role: str) -> list[str]:
        return [person.username for person in DEMO_PEOPLE if person.role == role]

    def _roles_of(self, username: str) -> tuple[str, ...]:
        return tuple(person.role for person in DEMO_PEOPLE if person.username == username)

    def sign(self, document_id: int, step: str, who: str, *, version=None, kind="sign", reason=None, comment=None):
        def act(session):
            user = self.user(session, who)
            document = session.get(dm.Document, document_id)
            return sig_ops.sign(session, acting(user), self.environment(), self.doc_type(document.type_key), user,
                                document, document.latest, Credentials(password=DEMO_PASSWORD, username=who),
                                step=step)
        return self.run(act)

    def sign_remaining(self, document_id: int) -> int:
        """Every step of the latest version not signed yet, in definition order, each by a person allowed."""
        doc_type = self.doc_type(self.document(document_id).type_key)
        made = 0
        for step in doc_type.steps:
            for _ in range(step.approvals - len(self.signed(document_id).get(step.name, []))):
                self.sign(document_id, step.name, self.signer_for(document_id, step))
                made += 1
        assert self.version_status(document_id) == dm.APPROVED
        return made

    def latest_of(self, type_key: str) -> int:
        with self.services.sessions() as session:
            return session.scalars(select(dm.Document.id).where(
                dm.Document.case_id == self.case_id, dm.Document.type_key == type_key,
                dm.Document.status != dm.WITHDRAWN).order_by(dm.Document.id.desc())).first()


def release_needs(regime) -> list[str]:
    """The release and every record it needs, directly or through others, in the regime's order."""
    needed, todo = set(), [regime.release]
    while todo:
        key = todo.pop()
        if key not in needed:
            needed.add(key)
            todo.extend(regime.document(key).prerequisites)
    return [document.type_key for document in regime.documents if document.type_key in needed]


CHECKLIST_STATE = {"done": "done", "not-needed": "not_needed", "blocked": "blocked", "": "open"}


def read_picture(page, case_id: int) -> dict[str, tuple[str, str]]:
    """The case page's picture as the browser shows it: {record type: (state, what it waits for)}; checked
    against the checklist printed under it, row by row."""
    page.goto(f"/cases/{case_id}")
    expect(page.locator("#case-flow")).to_be_visible()
    expect(page.locator("#case-timeline")).to_be_visible()
    nodes = page.locator("#case-flow g.node").evaluate_all(
        "gs => gs.map(g => [g.id.replace('picture-node-', ''), g.dataset.state, g.dataset.waiting])")
    picture = {key: (state, waiting) for key, state, waiting in nodes}
    rows = page.locator("#checklist tbody tr").evaluate_all(
        "rs => rs.map(r => [r.id.replace('checklist-', ''), r.className])")
    assert [key for key, _ in rows] == list(picture), "the picture shows the checklist's records in its order"
    for key, row_class in rows:
        assert picture[key][0] == CHECKLIST_STATE[row_class.strip()], (key, picture[key], row_class)
    return picture


def done(picture) -> int:
    return sum(1 for state, _ in picture.values() if state == "done")


@pytest.mark.req("11.10(f)")
@pytest.mark.parametrize("regime_key", ["jp_current", "jp_proposed", "us", "us_emergency", "eu"])
def test_the_case_picture_follows_each_demo_case_from_opening_to_release(page, app, demo, regime_key):
    services = app.extensions["edms"]
    with services.sessions() as session:
        case_id = session.scalar(select(Case.id).where(Case.lot == LOTS[regime_key]))
        ids = {username: user_id for user_id, username in session.execute(select(User.id, User.username))}
    driver = DemoDriver(services, ids, case_id=case_id, physician=PHYSICIANS[regime_key])
    regime = services.regimes[regime_key]
    needed = release_needs(regime)

    browser_sign_in(page, "akiko.tanaka", DEMO_PASSWORD)
    expect(page.locator("#sign-out")).to_be_visible()
    if regime_key in JAPANESE:
        choose_language(page, "ja")

    # As the demo left it: its first records signed, the release blocked by what it still needs.
    picture = read_picture(page, case_id)
    assert picture["oos_notification"][0] == "done"
    assert picture[regime.release][0] == "blocked"
    for key, answer, who in ANSWERS.get(regime_key, []):
        driver.answer(key, answer, by=who)
    history = [done(read_picture(page, case_id))]

    for _ in range(3 * len(needed)):
        picture = read_picture(page, case_id)
        if picture[regime.release][0] == "done":
            break
        open_now = [key for key in needed if picture[key][0] == "open"]
        assert open_now, f"nobody can move the case on: {picture}"
        key = open_now[0]
        if picture[key][1] == "to_create":
            document_id = driver.create(key, VALUES.get(regime_key, {}).get(key))
            written = read_picture(page, case_id)
            assert written[key] == ("open", "to_sign"), (key, written[key])  # written: its signers are next
        else:
            document_id = driver.latest_of(key)
        driver.sign_remaining(document_id)
        signed = read_picture(page, case_id)
        assert signed[key][0] == "done", (key, signed[key])
        history.append(done(signed))
        assert history[-1] > history[-2], history  # every approval shows, and nothing goes back

    final = read_picture(page, case_id)
    assert final[regime.release][0] == "done"
    assert all(final[key][0] in ("done", "not_needed") for key in needed), final
    assert history == sorted(history) and history[-1] - history[0] >= 3
    expect(page.locator("#administration-ready")).to_be_visible()
    # The picture says so in the reader's language, in words, not by colour alone.
    release_box = page.locator(f"#picture-node-{regime.release}")
    expect(release_box.locator(".node-state")).to_contain_text("完了" if regime_key in JAPANESE else "Done")
    expect(page.locator("#case-flow title").first).to_contain_text(re.compile(r"CASE-\d{4}-\d{4}"))
