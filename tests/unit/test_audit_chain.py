"""The canonical form hashed for each audit event is RFC 8785 JSON."""
import random
import string

import rfc8785

from edms.audit.chain import HASHED_FIELDS, canonical_bytes, canonical_changes


def random_text(rng):
    alphabet = string.printable + "日本語テキスト\u2028\u00e9\x00\x1f\"\\"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def test_fast_canonical_form_equals_rfc8785_for_every_value_kind():
    rng = random.Random(11)
    for _ in range(500):
        fields = {name: rng.choice([None, rng.randint(-(2**53) + 1, 2**53 - 1), random_text(rng)]) for name in HASHED_FIELDS}
        assert canonical_bytes(fields) == rfc8785.dumps(fields)


def test_changes_are_stored_as_canonical_json():
    assert canonical_changes({"b": {"old": 1, "new": 2}, "a": {"old": None, "new": "x"}}) == (
        '{"a":{"new":"x","old":null},"b":{"new":2,"old":1}}'
    )
    assert canonical_changes({}) is None
