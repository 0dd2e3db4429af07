"""A regulatory affairs user at the browser opens a case for an OOS lot of a marketed CAR-T product on the
manufacturer's expanded-access protocol (21 CFR 312.315): the route is offered by name in English and
Japanese, the case needs no Letter of Authorization, no FDA acknowledgement and no 30-day wait, and each
record shows how long it must be kept, from administration (21 CFR 11.10(c), (f))."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from edms.cases.models import Case
from edms.db import transaction
from edms.documents import operations as doc_ops
from edms.users.models import User
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.documents import realistic_values
from tests.support.people import acting
from tests.support.sites import make_site

pytestmark = pytest.mark.browser

CHICAGO = ZoneInfo("America/Chicago")
LOT = "U2026-0433"
ROUTE_EN = "US · US: manufacturer's expanded-access protocol (intermediate-size or treatment)"
ROUTE_JA = "US · 米国：製造業者の拡大アクセスプロトコル（中規模集団又は治療プロトコル）"


def local_input(moment: datetime) -> str:
    return moment.astimezone(CHICAGO).strftime("%Y-%m-%dT%H:%M")


def oos_notification_in_case(app, case_reference: str, author: str) -> str:
    """QC's OOS notification, drafted in the case through the service layer (its pages are tested elsewhere)."""
    services = app.extensions["edms"]
    doc_type = services.document_types["oos_notification"]
    with transaction(services.sessions) as session:
        case = session.query(Case).filter_by(reference=case_reference).one()
        user = session.query(User).filter_by(username=author).one()
        values = {**realistic_values(doc_type), "lot": LOT, "patient_ref": case.patient_ref}
        document = doc_ops.create_document(session, acting(user), user, doc_type, title=f"CAR expression OOS, lot {LOT}",
                                           raw_values=values, case_id=case.id)
        return document.number


@pytest.mark.req("11.10(c)")
@pytest.mark.req("11.10(f)")
def test_a_case_on_the_us_protocol_route_has_no_30_day_wait_and_shows_each_records_retention_end(app, page, people):
    people.make("naoko.ito", "regulatory", printed_name="Naoko Ito", timezone="America/Chicago")
    people.make("kenji.sato", "author", printed_name="Kenji Sato")
    people.make("emily.chen", "physician", printed_name="Emily Chen, MD", timezone="America/Chicago")
    make_site(app, "MD Anderson Cancer Center, Houston", "America/Chicago", "US", ("emily.chen",))
    now = datetime.now(CHICAGO).replace(second=0, microsecond=0)

    browser_sign_in(page, "naoko.ito", PASSWORD)
    page.click("#nav-cases")
    page.click("#new-case")
    # The route is offered by its name, in Japanese too.
    choose_language(page, "ja")
    expect(page.locator("#regime_key option[value=us_protocol]")).to_have_text(ROUTE_JA)
    choose_language(page, "en")
    expect(page.locator("#regime_key option[value=us_protocol]")).to_have_text(ROUTE_EN)

    page.select_option("#regime_key", "us_protocol")
    page.fill("#product", "Autologous anti-BCMA CAR-T (ciltacabtagene-like), marketed")
    page.fill("#lot", LOT)
    page.fill("#patient_ref", "PT-US3301")
    page.select_option("#site_id", label="MD Anderson Cancer Center, Houston (US, America/Chicago)")
    page.select_option("#physician_id", label="Emily Chen, MD")
    page.fill("#oos_detected_at", local_input(now - timedelta(days=2)))
    page.click("#open-case")
    expect(page.locator(".flash-success")).to_contain_text("opened")
    reference = page.locator("#case-reference").inner_text()
    expect(page.locator("dl.facts").first).to_contain_text("manufacturer's expanded-access protocol")

    # What the protocol needs per patient; nothing of the single-patient IND, and no clock on treatment.
    checklist = page.locator("#checklist")
    for record in ("Enrolment under the expanded-access protocol", "Ethics committee / IRB review record",
                   "Informed consent record", "QA release decision"):
        expect(checklist).to_contain_text(record)
    for absent in ("Letter of Authorization", "FDA acknowledgement"):
        expect(checklist).not_to_contain_text(absent)
    expect(page.locator("#checklist-qa_release")).to_contain_text(
        "Ethics committee / IRB review record must be approved first")
    deadlines = page.locator("#deadlines")
    expect(deadlines).not_to_contain_text("30 days")
    expect(deadlines).not_to_contain_text("not before")
    expect(page.locator("#administration-blockers")).not_to_contain_text("30 days")

    # Retention: not known until administration, then 10 years from it, at the site.
    number = oos_notification_in_case(app, reference, "kenji.sato")
    page.reload()
    row = page.locator(f"#retention-{number}")
    expect(row).to_contain_text("10 years from administration (not recorded yet)")
    expect(row).to_contain_text("21 CFR 1271.270(d)")
    given = now - timedelta(hours=1)
    page.select_option("#date-key", "administration")
    page.fill("#date-value", local_input(given))
    page.click("#record-date")
    expect(page.locator(".flash-success")).to_contain_text("Date recorded.")
    keep_until = given.astimezone(CHICAGO).date().replace(year=given.year + 10)
    expect(page.locator(f"#retention-{number} .keep-until")).to_have_text(f"until {keep_until.isoformat()}")
    choose_language(page, "ja")
    expect(page.locator(f"#retention-{number} .keep-until")).to_have_text(f"{keep_until.isoformat()} まで")
    expect(page.locator("#retention").locator("xpath=..").locator("h2")).to_have_text("記録の保存")
