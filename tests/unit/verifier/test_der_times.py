"""The DER reader's times (issue #15: read without strptime when they are the 14 digits edms and every TSA
write) are exactly what strptime reads, and what strptime refuses is refused."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    data = text.encode()
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


def test_up_to_six_fraction_digits_are_the_microseconds_the_rounded_float_gives():
    for width in range(1, 7):
        for number in range(10**width):
            digits = f"{number:0{width}d}"
            assert int(digits.ljust(6, "0")) == round(float(f"0.{digits}") * 1_000_000), digits


def reference_with_fraction(text: str):
    """The reader before the fraction was read as digits: the fraction as a rounded float of seconds (of the
    text as the reader decodes the bytes: anything not ASCII replaced)."""
    text = text.encode().decode("ascii", "replace")
    if not text.endswith("Z") or len(text) < 15:
        return None
    whole, _, fraction = text[:-1].partition(".")
    try:
        value = datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        if fraction:
            value += timedelta(microseconds=round(float(f"0.{fraction}") * 1_000_000))
    except (ValueError, OverflowError):
        return None
    return value


@pytest.mark.req("11.10(a)")
@settings(max_examples=600, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)).map(lambda value: value.strftime("%Y%m%d%H%M%S")),
       st.text(alphabet="0123456789٩_+-e ", max_size=9))
def test_a_generalized_time_with_a_fraction_reads_as_before(digits, fraction):
    text = f"{digits}.{fraction}Z"
    assert read(text) == reference_with_fraction(text)
