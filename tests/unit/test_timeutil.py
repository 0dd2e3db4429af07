"""Times inside hashed and signed records: UTC, RFC 3339, the same bytes for the same moment."""
from datetime import UTC, datetime, timedelta, timezone

import pytest

from edms.timeutil import isoformat_utc


@pytest.mark.req("ALCOA+")
def test_the_canonical_utc_form_always_has_a_four_digit_year_and_microseconds():
    assert isoformat_utc(datetime(51, 12, 24, 1, 11, 31, 130000, tzinfo=UTC)) == "0051-12-24T01:11:31.130000Z"
    assert isoformat_utc(datetime(2026, 12, 6, 21, 0, tzinfo=UTC)) == "2026-12-06T21:00:00.000000Z"


def test_the_canonical_form_is_the_utc_moment_whatever_zone_it_was_given_in():
    tokyo = timezone(timedelta(hours=9))
    assert isoformat_utc(datetime(2026, 12, 7, 6, 0, tzinfo=tokyo)) == "2026-12-06T21:00:00.000000Z"


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        isoformat_utc(datetime(2026, 12, 6, 21, 0))
