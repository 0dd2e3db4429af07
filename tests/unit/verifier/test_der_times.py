"""The DER reader's times (issue #15: read without strptime when they are the 14 digits edms and every TSA
write) are exactly what strptime reads, and what strptime refuses is refused."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.verifier.der import GENERALIZED_TIME, Node, moment
from edms.verifier.errors import Invalid


def reference(text: str):
    """The reader before issue #15."""
    if not text.endswith("Z") or len(text) < 15:
        return None
    whole, _, _fraction = text[:-1].partition(".")
    try:
        return datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def read(text: str):
    data = text.encode("ascii")
    try:
        return moment(Node(GENERALIZED_TIME, data, b"\x18" + bytes([len(data)]) + data))
    except Invalid:
        return None


@pytest.mark.req("11.10(a)")
@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="0123456789", min_size=14, max_size=14) | st.datetimes(timezones=st.just(UTC)).map(
    lambda value: value.strftime("%Y%m%d%H%M%S")))
def test_a_generalized_time_reads_as_strptime_reads_it(digits):
    assert read(digits + "Z") == reference(digits + "Z")
