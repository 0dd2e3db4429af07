"""The manifest's signing time read without strptime (issue #15) is exactly what strptime reads, and fails
exactly where strptime fails: on the form edms writes, on its near misses (one field a digit short, a
non-ASCII digit, an impossible date or second) and on any text at all."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.signatures.manifest import _signed_at
from edms.timeutil import isoformat_utc

FORM = "%Y-%m-%dT%H:%M:%S.%fZ"


def reference(text: str) -> tuple:
    try:
        return "ok", datetime.strptime(text, FORM).replace(tzinfo=UTC)
    except ValueError:
        return ("ValueError",)


def fast(text: str) -> tuple:
    try:
        return "ok", _signed_at(text)
    except ValueError:
        return ("ValueError",)


NEAR_MISSES = ["2026-12-07T05:21:09.123456Z", "2026-1-07T05:21:09.123456Z", "2026-12-07T05:21:09.1234Z",
               "2026-12-07T05:21:09Z", "2026-12-07 05:21:09.123456Z", "2026-02-30T05:21:09.123456Z",
               "2026-12-07T24:00:00.000000Z", "2026-12-07T05:21:60.000000Z", "2026-12-07T05:21:61.000000Z",
               "0000-12-07T05:21:09.123456Z", "2026-12-07T05:21:09.123456", "2026-12-07T05:21:09.123456Z ",
               "２０２６-12-07T05:21:09.123456Z", "2026-12-07T05:21:0٩.123456Z", "2026-12-07T05:21:09.1234567Z",
               "9999-12-31T23:59:59.999999Z", "2024-02-29T00:00:00.000000Z", "2025-02-29T00:00:00.000000Z", ""]


@pytest.mark.req("11.10(a)")
@pytest.mark.parametrize("text", NEAR_MISSES)
def test_the_form_edms_writes_and_its_near_misses_read_as_strptime_reads_them(text):
    assert fast(text) == reference(text)


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_every_time_edms_writes_reads_back_as_strptime_reads_it(moment):
    text = isoformat_utc(moment.replace(tzinfo=UTC))
    assert fast(text) == reference(text) == ("ok", moment.replace(tzinfo=UTC))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789-T:.Z ٩２", max_size=30)
       | st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{1,7}Z?\Z"))
def test_any_text_reads_or_fails_as_strptime_does(text):
    assert fast(text) == reference(text)


def test_a_microsecond_apart_stays_apart():
    base = datetime(2026, 12, 7, 5, 21, 9, 999_999, tzinfo=UTC)
    assert _signed_at(isoformat_utc(base)) + timedelta(microseconds=1) == _signed_at(isoformat_utc(
        base + timedelta(microseconds=1)))
