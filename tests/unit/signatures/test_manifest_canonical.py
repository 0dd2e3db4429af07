"""The manifest's canonical-form check (issue #15: in C where it can be) says exactly what the rfc8785
reference says, for any JSON a manifest could be read as: its own canonical bytes, and bytes that differ
from them only in key order, spacing, escapes or number form."""
from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.signatures.manifest import is_canonical

KEYS = st.text(max_size=8) | st.sampled_from(["signature_id", "a", "B", "é", "\U0001f600", "\ue000", "z" * 3])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.sampled_from([2**53 - 1, -(2**53 - 1), 2**53])
           | st.text() | st.sampled_from(["\x00\x1f\x7f", "\u2028", "秋子 田中", '"\\/', "\ud800"]))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                         max_leaves=25)


def reference(document, data: bytes) -> bool:
    try:
        return rfc8785.dumps(document) == data
    except rfc8785.CanonicalizationError:
        return False


def variants(document) -> list[bytes]:
    out = [json.dumps(document, separators=(",", ":")).encode("utf-8", "surrogatepass"),
           json.dumps(document, sort_keys=True).encode("utf-8", "surrogatepass"),
           json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass"),
           json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")]
    try:
        out.append(rfc8785.dumps(document))
    except rfc8785.CanonicalizationError:
        pass
    return out


@pytest.mark.req("11.70")
@settings(max_examples=400, deadline=None)
@given(DOCUMENTS)
def test_the_fast_canonical_check_agrees_with_rfc8785(document):
    for data in variants(document):
        assert is_canonical(document, data) == reference(document, data), data
