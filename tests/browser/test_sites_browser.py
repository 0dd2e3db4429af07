"""An administrator, in English and in Japanese, creates a hospital as a site and assigns a physician to it;
that physician then finds the site's case in their list, while a physician of another site can neither see
nor open it (21 CFR 11.10(d), (g))."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from edms.cases.facts import CaseFacts
from edms.cases.operations import create_case
from edms.db import transaction
from edms.sites.models import Site
from edms.users.models import User
from tests.browser.conftest import browser_sign_in, choose_language
from tests.conftest import PASSWORD
from tests.support.people import acting
from tests.support.sites import make_site

pytestmark = pytest.mark.browser

SITE = "Osaka University Hospital"
TEXT = {
    "en": {"created": "Site Osaka University Hospital created.", "added": "Member added."},
    "ja": {"created": "施設 Osaka University Hospital を登録しました。", "added": "所属者を追加しました。"},
}


def _open_osaka_case(app) -> tuple[int, str]:
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        qa = session.scalar(select(User).where(User.username == "akiko.tanaka"))
        site = session.scalar(select(Site).where(Site.name == SITE))
        case = create_case(session, acting(qa), qa, services.regimes, CaseFacts(
            regime_key="jp_current", product="Autologous anti-CD19 CAR-T (tisagenlecleucel-like)", lot="L2026-0412",
            patient_ref="PT-7Q4X", site_id=site.id, physician_id=None,
            oos_detected_at=datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))))
        return case.id, case.reference


@pytest.mark.req("11.10(d)")
@pytest.mark.req("11.10(g)")
@pytest.mark.req("A11-12")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_an_administrator_creates_a_site_assigns_a_physician_and_a_physician_of_another_site_cannot_open_its_case(
        app, page, people, language):
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    people.make("akiko.tanaka", "qa", printed_name="Akiko Tanaka")
    people.make("yuki.mori", "physician", printed_name="Yuki Mori, MD, PhD")
    people.make("lukas.weber", "physician", printed_name="Dr. med. Lukas Weber", timezone="Europe/Berlin")
    make_site(app, "Charité – Universitätsmedizin Berlin", "Europe/Berlin", "DE", ("lukas.weber",))

    browser_sign_in(page, "daisuke.kato", PASSWORD)
    choose_language(page, language)
    page.click("#nav-sites")
    page.fill("#name", SITE)
    page.select_option("#timezone", "Asia/Tokyo")
    page.click("#create-site")
    expect(page.locator(".flash-success")).to_contain_text(TEXT[language]["created"])
    expect(page.locator("#site-name")).to_have_text(SITE)
    expect(page.locator("#site-country")).to_have_text("JP")
    page.select_option("#user_id", label="Yuki Mori, MD, PhD (yuki.mori)")
    page.fill("#member-reason", "Attending haematologist at the hospital")
    page.click("#add-member")
    expect(page.locator(".flash-success")).to_contain_text(TEXT[language]["added"])
    expect(page.locator("#site-members")).to_contain_text("Yuki Mori, MD, PhD")
    page.click("#nav-sites")
    expect(page.locator("#sites-table")).to_contain_text("Asia/Tokyo")

    case_id, reference = _open_osaka_case(app)

    # A physician of the site, not named on the case, finds it and opens it.
    page.context.clear_cookies()
    browser_sign_in(page, "yuki.mori", PASSWORD)
    choose_language(page, language)
    page.click("#nav-cases")
    page.click(f"text={reference}")
    expect(page.locator("#case-reference")).to_have_text(reference)

    # A physician of Charité Berlin: not in the list, and the case's address answers 404.
    page.context.clear_cookies()
    browser_sign_in(page, "lukas.weber", PASSWORD)
    choose_language(page, language)
    page.click("#nav-cases")
    expect(page.locator("#cases-table")).not_to_contain_text(reference)
    response = page.goto(f"/cases/{case_id}")
    assert response is not None and response.status == 404
    expect(page.locator("body")).not_to_contain_text("PT-7Q4X")
