"""Long histories are filterable by record, kind of event, person and date, and paged by keyset (the entries
after the last one shown), on the signed history pages of a case and of a document (issue 12)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from edms.timeutil import utc_now
from tests.support.inspection import INSPECTOR, inspector, inspector_client  # noqa: F401

ROW = re.compile(r'<tr class="entry entry-(\w+)" data-seq="(\d*)" data-action="([\w.]+)"')


def rows(response) -> list[tuple[str, int, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [(kind, int(seq) if seq else 0, action) for kind, seq, action in ROW.findall(response.get_data(as_text=True))]


@pytest.mark.req("11.10(e)")
@pytest.mark.req("A11-9")
def test_a_case_history_narrows_to_one_record_one_kind_one_person_or_a_period(inspector_client, signed_case,
                                                                                  monkeypatch):
    from edms.web import history_filter

    monkeypatch.setattr(history_filter, "PAGE_SIZE", 1000)  # the whole history on one page, to count it
    url = f"/inspection/cases/{signed_case.case_id}"
    everything = rows(inspector_client.get(url))
    assert {kind for kind, _, _ in everything} >= {"version", "submission", "signature", "rejection", "status"}

    signatures = rows(inspector_client.get(url, query_string={"kind": "signature"}))
    assert signatures and {kind for kind, _, _ in signatures} == {"signature"}
    assert len(signatures) == sum(1 for kind, _, _ in everything if kind == "signature")

    first = signed_case.documents[0]
    one_record = rows(inspector_client.get(url, query_string={"record": first}))
    assert one_record and len(one_record) < len(everything)
    page = inspector_client.get(url, query_string={"record": first}).get_data(as_text=True)
    assert f'<option value="{first}" selected>' in page

    refusals_by_emi = rows(inspector_client.get(url, query_string={"person": "emi.nakamura", "kind": "rejection"}))
    assert refusals_by_emi and {kind for kind, _, _ in refusals_by_emi} == {"rejection"}
    assert rows(inspector_client.get(url, query_string={"person": "nobody.at.all"})) == []

    today = utc_now().date()
    period = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    assert len(rows(inspector_client.get(url, query_string=period))) == len(everything)
    assert rows(inspector_client.get(url, query_string={"to": (today - timedelta(days=2)).isoformat()})) == []


def test_a_long_history_is_paged_by_keyset_and_the_pages_join_up_without_gaps_or_repeats(
        inspector_client, signed_case, monkeypatch):
    from edms.web import history_filter

    url = f"/inspection/documents/{signed_case.documents[0]}"
    everything = rows(inspector_client.get(url))
    monkeypatch.setattr(history_filter, "PAGE_SIZE", 5)
    seen, after = [], None
    for _ in range(len(everything)):
        response = inspector_client.get(url, query_string={"after": after} if after else {})
        page = rows(response)
        assert 0 < len(page) <= 5
        seen += page
        match = re.search(r'href="[^"]*after=(\d+)" id="history-next"', response.get_data(as_text=True))
        if match is None:
            break
        after = int(match.group(1))
        assert after == page[-1][1]
    assert seen == everything
