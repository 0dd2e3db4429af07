"""A version's canonical bytes (issue #15: written in C where it can be) are exactly the rfc8785 reference's, for
any JSON value a version's fields and attachments could hold, and so is the error where rfc8785 refuses one: a
content hash, and every signature over it, does not depend on which path wrote the bytes."""
from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.documents.hashing import canonical_content, canonical_json, plain_json

KEYS = st.text(max_size=8) | st.sampled_from(["sha256", "a", "B", "é", "\U0001f600", "\ue000", "z" * 3])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.sampled_from([2**53 - 1, -(2**53 - 1), 2**53])
           | st.floats(allow_nan=False) | st.text()
           | st.sampled_from(["\x00\x1f\x7f", "\u2028", "秋子 田中", '"\\/', "\ud800", 1.0, -0.0, 1e21]))
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                         max_leaves=25)


def reference(document) -> bytes | str:
    try:
        return rfc8785.dumps(document)
    except rfc8785.CanonicalizationError as exc:
        return type(exc).__name__


def fast(document) -> bytes | str:
    try:
        return canonical_json(document)
    except rfc8785.CanonicalizationError as exc:
        return type(exc).__name__


@pytest.mark.req("11.70")
@settings(max_examples=500, deadline=None)
@given(DOCUMENTS)
def test_the_fast_canonical_bytes_are_rfc8785s(document):
    assert fast(document) == reference(document)


@pytest.mark.req("11.70")
def test_a_versions_canonical_content_is_rfc8785_of_its_fields_and_attachments():
    fields = {"lot": "L-2026-0042", "viability_percent": 61.5, "observed": ["pH 7.2", "CFU 0"], "count": 3,
              "notes": "再検査を実施\n", "checked": True, "deviation": None}
    attachments = [{"sha256": "b" * 64, "name": "chart.pdf", "media_type": "application/pdf", "size": 1024},
                   {"sha256": "a" * 64, "name": "写真.png", "media_type": "image/png", "size": 2**40}]
    content = canonical_content(type_key="oos", number="OOS-2026-0042", version=2, title="Viability OOS", fields=fields,
                                attachments=attachments)
    assert content == rfc8785.dumps({"type": "oos", "number": "OOS-2026-0042", "version": 2, "title": "Viability OOS",
                                     "fields": fields, "attachments": sorted(attachments,
                                                                             key=lambda a: (a["sha256"], a["name"]))})


class Key(str):
    """A str subclass: not what `json.loads` makes, so not written by the C path."""


@pytest.mark.parametrize(("keys", "plain"), [
    ([], True), (["a", "sha256", "z" * 3], True), (["a", "é"], False), (["\U0001f600"], False), ([1], False),
    (["a", 1], False), ([Key("a")], False), (["a", Key("b")], False), ([None], False), ([("a",)], False),
])
def test_only_objects_with_exactly_str_ascii_keys_take_the_c_path(keys, plain):
    assert plain_json(dict.fromkeys(keys, 1)) is plain
    assert plain_json([{"outer": dict.fromkeys(keys, "x")}]) is plain
