"""Sites are records (name, time zone, country), created and changed by administrators with every act
audited; people belong to sites; a case names its site and shows its times in the site's zone."""
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from edms.audit.models import AuditEvent
from edms.cases import models as cm
from edms.db import transaction
from edms.sites import operations as site_ops
from edms.sites.errors import SiteError
from edms.sites.models import Site, SiteMember
from edms.users.models import User
from tests.conftest import bearer, csrf_token, sign_in
from tests.support.people import acting


def _user(session, username: str) -> User:
    return session.scalar(select(User).where(User.username == username))


def _events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-12")
def test_an_administrator_creates_a_site_on_its_page_and_changes_its_zone_with_a_reason_both_audited(
        app, admin_client):
    page = admin_client.get("/admin/sites").get_data(as_text=True)
    assert 'id="nav-sites"' in page
    response = admin_client.post("/admin/sites", data={
        "csrf_token": csrf_token(page), "name": "Osaka University Hospital", "timezone": "Asia/Tokyo", "country": ""})
    assert response.status_code == 302
    detail = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Osaka University Hospital" in detail and "Asia/Tokyo" in detail
    assert 'id="site-country">JP<' in detail  # the country of the zone, when none is given
    site_url = response.headers["Location"]
    refused = admin_client.post(site_url, data={"csrf_token": csrf_token(detail), "name": "Osaka University Hospital",
                                                "timezone": "Europe/Berlin", "country": "JP", "reason": ""})
    assert refused.status_code == 302
    with app.extensions["edms"].sessions() as session:
        assert session.scalar(select(Site.timezone)) == "Asia/Tokyo"  # no reason: nothing changed
    admin_client.post(site_url, data={"csrf_token": csrf_token(detail), "name": "Osaka University Hospital",
                                      "timezone": "Asia/Tokyo", "country": "JP", "reason": ""})
    admin_client.post(site_url, data={"csrf_token": csrf_token(detail), "name": "Osaka University Hospital (Suita)",
                                      "timezone": "Asia/Tokyo", "country": "JP", "reason": "The site's official name"})
    with app.extensions["edms"].sessions() as session:
        created, = _events(session, "site.created")
        assert created.actor_name == "Daisuke Kato"
        assert json.loads(created.changes)["timezone"] == {"old": None, "new": "Asia/Tokyo"}
        updated, = _events(session, "site.updated")
        assert updated.reason == "The site's official name"
        assert json.loads(updated.changes) == {"name": {"old": "Osaka University Hospital",
                                                        "new": "Osaka University Hospital (Suita)"}}


@pytest.mark.req("11.10(g)")
def test_only_administrators_create_sites_and_a_refused_site_changes_nothing(app, people):
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    people.make("emi.nakamura", "qa")
    with transaction(app.extensions["edms"].sessions) as session:
        admin, qa = _user(session, "daisuke.kato"), _user(session, "emi.nakamura")
        with pytest.raises(SiteError, match="Only administrators"):
            site_ops.create_site(session, acting(qa), qa, "Charité Berlin", "Europe/Berlin", "DE")
        for name, zone, country, message in (("", "Europe/Berlin", "DE", "name is required"),
                                             ("Charité Berlin", "Europe/Atlantis", "DE", "Unknown time zone"),
                                             ("Charité Berlin", "Europe/Berlin", "Germany", "two-letter"),
                                             ("Charité\u202eBerlin", "Europe/Berlin", "DE", "bidirectional")):
            with pytest.raises(SiteError, match=message):
                site_ops.create_site(session, acting(admin), admin, name, zone, country)
        site_ops.create_site(session, acting(admin), admin, "Charité Berlin", "Europe/Berlin", "de")
        with pytest.raises(SiteError, match="exists already"):
            site_ops.create_site(session, acting(admin), admin, "Charité Berlin", "Europe/Berlin", "DE")
    with app.extensions["edms"].sessions() as session:
        assert session.scalars(select(Site.country)).all() == ["DE"]
        assert len(_events(session, "site.created")) == 1


@pytest.mark.req("A11-12")
def test_a_member_leaves_a_site_by_an_ended_row_never_a_deleted_one_and_both_acts_are_audited(app, people):
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    people.make("lukas.weber", "physician", printed_name="Dr. med. Lukas Weber")
    with transaction(app.extensions["edms"].sessions) as session:
        admin, weber = _user(session, "daisuke.kato"), _user(session, "lukas.weber")
        site = site_ops.create_site(session, acting(admin), admin, "Charité – Universitätsmedizin Berlin",
                                    "Europe/Berlin", "DE")
        with pytest.raises(SiteError, match="reason"):
            site_ops.add_member(session, acting(admin), admin, site, weber, " ")
        site_ops.add_member(session, acting(admin), admin, site, weber, "Consultant haematologist at the site")
        with pytest.raises(SiteError, match="already"):
            site_ops.add_member(session, acting(admin), admin, site, weber, "again")
        site_ops.remove_member(session, acting(admin), admin, site, weber, "Moved to another hospital")
    with app.extensions["edms"].sessions() as session:
        row, = session.scalars(select(SiteMember)).all()
        assert row.removed_at is not None and row.removed_by is not None
        assert [e.reason for e in _events(session, "site.member_added")] == ["Consultant haematologist at the site"]
        assert [e.reason for e in _events(session, "site.member_removed")] == ["Moved to another hospital"]


def test_sites_over_the_api_administrators_write_and_everyone_signed_in_reads(app, client, people):
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    people.make("lukas.weber", "physician", printed_name="Dr. med. Lukas Weber")
    admin, physician = bearer(client, "daisuke.kato"), bearer(client, "lukas.weber")
    body = {"name": "Charité – Universitätsmedizin Berlin", "timezone": "Europe/Berlin", "country": "DE"}
    assert client.post("/api/v1/sites", json=body, headers=physician).status_code == 403
    created = client.post("/api/v1/sites", json=body, headers=admin)
    assert created.status_code == 201, created.json
    site_id = created.json["id"]
    with app.extensions["edms"].sessions() as session:
        weber_id = _user(session, "lukas.weber").id
    added = client.post(f"/api/v1/sites/{site_id}/members", json={"user_id": weber_id, "reason": "Treats here"},
                        headers=admin)
    assert added.status_code == 200 and [m["username"] for m in added.json["members"]] == ["lukas.weber"]
    assert client.post(f"/api/v1/sites/{site_id}/members", json={"user_id": weber_id, "reason": ""},
                       headers=admin).status_code == 400
    changed = client.put(f"/api/v1/sites/{site_id}", json={**body, "timezone": "Europe/Paris", "reason": ""},
                         headers=admin)
    assert changed.status_code == 400 and "reason" in changed.json["error"]["message"]
    listed = client.get("/api/v1/sites", headers=physician)
    assert listed.status_code == 200
    assert [(s["name"], s["timezone"], s["country"]) for s in listed.json["items"]] == [
        ("Charité – Universitätsmedizin Berlin", "Europe/Berlin", "DE")]


def test_a_case_opened_on_the_page_names_its_site_and_reads_the_detection_time_in_the_sites_zone(app, client, people):
    people.make("daisuke.kato", "admin", printed_name="Daisuke Kato")
    people.make("emi.nakamura", "qa")
    with transaction(app.extensions["edms"].sessions) as session:
        admin = _user(session, "daisuke.kato")
        site_id = site_ops.create_site(session, acting(admin), admin, "Osaka University Hospital", "Asia/Tokyo", "JP").id
    sign_in(client, "emi.nakamura")
    page = client.get("/cases/new").get_data(as_text=True)
    assert "Osaka University Hospital (JP, Asia/Tokyo)" in page
    response = client.post("/cases/new", data={
        "csrf_token": csrf_token(page), "regime_key": "jp_current", "product": "Autologous anti-CD19 CAR-T",
        "lot": "L2026-0412", "patient_ref": "PT-7Q4X", "site_id": str(site_id), "oos_detected_at": "2026-11-20T09:30"})
    assert response.status_code == 302
    with app.extensions["edms"].sessions() as session:
        case = session.scalars(select(cm.Case)).one()
        assert case.site_id == site_id and case.site_timezone == "Asia/Tokyo"
        assert case.current_dates()["oos_detected"] == datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
        created, = _events(session, "case.created")
        assert json.loads(created.changes)["site_id"] == {"old": None, "new": site_id}


def test_a_case_named_only_by_a_free_text_site_gets_that_site_record_and_a_wrong_zone_for_it_is_refused(app, people):
    from edms.cases.errors import CaseError
    from edms.cases.facts import CaseFacts
    from edms.cases.operations import create_case

    people.make("emi.nakamura", "qa")
    services = app.extensions["edms"]
    facts = dict(regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3310",
                 physician_id=None, oos_detected_at=datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    with transaction(services.sessions) as session:
        qa = _user(session, "emi.nakamura")
        case = create_case(session, acting(qa), qa, services.regimes, CaseFacts(
            **facts, treating_site="Charité Berlin", site_timezone="Europe/Berlin"))
        assert (case.site.name, case.site.country, case.opened_site_name) == ("Charité Berlin", "DE", "Charité Berlin")
        with pytest.raises(CaseError, match="keeps its times in Europe/Berlin"):
            create_case(session, acting(qa), qa, services.regimes, CaseFacts(
                **{**facts, "lot": "E2026-0108"}, treating_site="Charité Berlin", site_timezone="Asia/Tokyo"))
        with pytest.raises(CaseError, match="Choose the treating site"):
            create_case(session, acting(qa), qa, services.regimes, CaseFacts(**{**facts, "lot": "E2026-0109"},
                                                                             site_id=999))
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Site)) == 1
        assert session.scalar(select(func.count()).select_from(cm.Case)) == 1
