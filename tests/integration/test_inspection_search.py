"""Finding any signed record: by number, type, case, product, lot, patient, status, signer, meaning, dates, text."""
from __future__ import annotations

from datetime import timedelta

import pytest

from edms.inspection.search import SearchError, SearchQuery, parse_query, search
from edms.timeutil import utc_now
from tests.support.documents import Api
from tests.support.inspection import INSPECTOR, inspector, inspector_client  # noqa: F401
from tests.support.signed_case import LOT, PATIENT, PRODUCT


def numbers(app, query: SearchQuery, **kwargs) -> list[str]:
    with app.extensions["edms"].sessions() as session:
        return [hit.document.number for hit in search(session, query, **kwargs).hits]


@pytest.mark.req("11.10(b)")
def test_every_criterion_finds_the_signed_records_of_the_case(app, signed_case):
    oos, deviation, release = (signed_case.numbers[i] for i in signed_case.documents)
    every = [release, deviation, oos]  # newest first
    now = utc_now()
    assert numbers(app, SearchQuery(lot=LOT)) == every
    assert numbers(app, SearchQuery(lot=LOT.lower())) == every  # field values ignore case
    assert numbers(app, SearchQuery(lot="L2026-0413")) == []
    # The deviation report has no product or patient field: found through its case.
    assert numbers(app, SearchQuery(product=PRODUCT)) == every
    assert numbers(app, SearchQuery(patient_ref=PATIENT)) == every
    assert numbers(app, SearchQuery(case_id=signed_case.case_id)) == every
    assert numbers(app, SearchQuery(case_id=signed_case.case_id + 1)) == []
    assert numbers(app, SearchQuery(number=oos)) == [oos]
    assert numbers(app, SearchQuery(number=oos.lower()[:4])) == [oos]  # a prefix, any case
    assert numbers(app, SearchQuery(type_key="deviation_report")) == [deviation]
    assert numbers(app, SearchQuery(status="approved")) == every
    assert numbers(app, SearchQuery(status="draft")) == []
    assert numbers(app, SearchQuery(signer="hiroshi.yamada")) == every
    assert numbers(app, SearchQuery(signer="Yamada", meaning="approved")) == every
    assert numbers(app, SearchQuery(signer="kenji.sato", type_key="qa_release")) == []  # QC signs no release
    assert numbers(app, SearchQuery(meaning="authored")) == [deviation, oos]
    assert numbers(app, SearchQuery(since=now - timedelta(hours=1), until=now + timedelta(hours=1))) == every
    assert numbers(app, SearchQuery(since=now + timedelta(hours=1))) == []
    assert numbers(app, SearchQuery(signer="emi.nakamura", until=now - timedelta(days=1))) == []
    assert numbers(app, SearchQuery(text="pasquini")) == [oos]  # in a field of the OOS notification, any case
    assert numbers(app, SearchQuery(text="CAPA-2026-0031")) == [deviation]
    assert numbers(app, SearchQuery(text="release decision")) == [release]  # in the title
    assert numbers(app, SearchQuery(text="50%_off")) == []  # LIKE wildcards are taken literally


def test_results_show_the_current_version_and_its_signatures_and_page_by_keyset(app, signed_case):
    with app.extensions["edms"].sessions() as session:
        first = search(session, SearchQuery(lot=LOT), limit=2)
        second = search(session, SearchQuery(lot=LOT), before=first.next_before, limit=2)
        hit = first.hits[0]
        assert hit.version.version == 3 and hit.version.status == "approved"
        assert [(s.meaning, s.printed_name) for s in hit.signatures] == [
            ("reviewed", "Emi Nakamura"), ("approved", "Hiroshi Yamada")]
        assert hit.signature_count == 6  # refused, then approved twice
    assert len(first.hits) == 2 and first.next_before == first.hits[-1].document.id
    assert [h.document.number for h in second.hits] == [signed_case.numbers[signed_case.documents[0]]]
    assert second.next_before is None


def test_dates_are_whole_days_in_the_searchers_zone_and_bad_criteria_are_named():
    query = parse_query({"from": "2026-11-25", "to": "2026-11-25", "lot": " L2026-0412 "}, "Asia/Tokyo")
    assert query.since.isoformat() == "2026-11-24T15:00:00+00:00"
    assert query.until.isoformat() == "2026-11-25T15:00:00+00:00"
    assert query.lot == "L2026-0412"
    with pytest.raises(SearchError, match="'from'"):
        parse_query({"from": "25/11/2026"}, "UTC")
    with pytest.raises(SearchError, match="'case'"):
        parse_query({"case": "CASE-1"}, "UTC")


def test_search_page_finds_by_lot_and_links_to_the_history(app, signed_case, inspector_client):
    page = inspector_client.get(f"/inspection/search?lot={LOT}").get_data(as_text=True)
    for number in signed_case.numbers.values():
        assert f'data-document="{number}"' in page
    assert f'/inspection/cases/{signed_case.case_id}"' in page
    assert "Hiroshi Yamada" in page
    empty = inspector_client.get("/inspection/search?lot=NOPE").get_data(as_text=True)
    assert "No record matches." in empty
    bad = inspector_client.get("/inspection/search?from=yesterday").get_data(as_text=True)
    assert 'id="search-error"' in bad


def test_api_search_pages_with_next_before(app, client, signed_case, inspector):
    api = Api(client, INSPECTOR[0])
    first = api.get(f"/search?lot={LOT}&limit=2").json
    assert len(first["items"]) == 2 and first["next_before"]
    second = api.get(f"/search?lot={LOT}&limit=2&before={first['next_before']}").json
    assert len(second["items"]) == 1 and second["next_before"] is None
    item = first["items"][0]
    assert item["current_version"] == 3 and item["signatures"][-1]["printed_name"] == "Hiroshi Yamada"
    assert api.get("/search?from=never").status_code == 400
