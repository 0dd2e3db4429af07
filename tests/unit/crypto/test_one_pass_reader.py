"""The one-pass CMS reader (issue #15: reading the CMS and the token was the largest cost of a cold check after
the ECDSA verifications) reads exactly what the reference DER walk reads and refuses exactly what it refuses,
with the same message: on a person's real signature and a real time-stamp token, on every structural variant
below (truncated, indefinite and non-minimal lengths, bytes after the structure, wrong tags, a signed attribute
duplicated or reordered, an unsigned attribute added, a second SignerInfo, multi-byte tags) and on hypothesis-made
mutations of both. Where it reads, what it reads is also what asn1crypto reads. The same for the time-stamp
response around a token and the token's TSTInfo (its imprint and time), read in one pass too."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest
from asn1crypto import cms as asn1_cms
from hypothesis import given, settings
from hypothesis import strategies as st

from edms.crypto.cms import sign_detached, signature_value
from edms.crypto.tsa import make_timestamp_response
from edms.verifier import cms, der, memo, one_pass, timestamp
from edms.verifier.errors import Invalid
from edms.verifier.timestamp import token_of
from tests.unit.crypto.conftest import certified_key

settings.register_profile("one-pass", max_examples=400, deadline=None)

Tree = list  # [tag, bytes] for a primitive element, [tag, [Tree, ...]] for a constructed one


def outcome(read: Callable[[bytes], object], data: bytes) -> tuple[str, object]:
    try:
        return "read", read(data)
    except Invalid as exc:
        return "refused", str(exc)


def assert_read_alike(data: bytes) -> None:
    """The reader verification uses gives the reference's result or refusal; and the one-pass reader alone
    either declines or reads exactly what the reference reads (it never reads what the reference refuses)."""
    reference = outcome(cms._read_signed_data_reference, data)
    assert outcome(cms._read_signed_data, data) == reference, data.hex()
    with memo.shared_run():
        assert outcome(cms._read_signed_data, data) == reference, data.hex()
    try:
        fast = one_pass.read_signed_data(data)
    except (one_pass.Unusual, Invalid, IndexError, ValueError):
        return
    assert reference == ("read", fast), data.hex()


# --- a small DER writer, to build the variants ----------------------------------------------------------

def parse(data: bytes) -> Tree:
    node = der.read_one(data)
    if node.tag & 0x20:
        return [node.tag, [parse(child.raw) for child in node.children()]]
    return [node.tag, node.content]


def length(size: int, form: str = "minimal") -> bytes:
    if form == "minimal":
        return bytes([size]) if size < 0x80 else _long(size, (size.bit_length() + 7) // 8)
    extra = {"one more byte": 1, "four bytes": None}[form]
    width = 4 if extra is None else max(1, (size.bit_length() + 7) // 8) + extra
    return _long(size, width)


def _long(size: int, width: int) -> bytes:
    return bytes([0x80 | width]) + size.to_bytes(width, "big")


def encode(tree: Tree, forms: dict[int, str] | None = None, _depth: int = 0) -> bytes:
    """DER of `tree`; `forms` maps a depth to a length form ("indefinite", "one more byte", "four bytes")."""
    tag, body = tree
    content = body if isinstance(body, bytes) else b"".join(encode(child, forms, _depth + 1) for child in body)
    form = (forms or {}).get(_depth, "minimal")
    if form == "indefinite":
        return bytes([tag, 0x80]) + content + b"\x00\x00"
    return bytes([tag]) + length(len(content), form) + content


def at(tree: Tree, path: tuple[int, ...]) -> Tree:
    for index in path:
        tree = tree[1][index]
    return tree


def changed(data: bytes, path: tuple[int, ...], change: Callable[[Tree], None]) -> bytes:
    tree = parse(data)
    change(at(tree, path))
    return encode(tree)


# Paths in a ContentInfo: [1] the [0] wrapper, [1, 0] SignedData, [1, 0, -1] the signer infos SET.
SIGNED_DATA, SIGNER_INFOS = (1, 0), (1, 0, -1)
SIGNER_INFO = (1, 0, -1, 0)
SIGNED_ATTRS = (1, 0, -1, 0, 3)


@pytest.fixture(scope="module")
def structures(pki, now):
    """A person's detached CMS signature and the TSA's token stamping it, as edms makes them."""
    key, cert = certified_key(pki, now, "Akiko Tanaka", "akiko.tanaka", "user-0001")
    signature = sign_detached(key, cert, '{"meaning":"approval","signer":"秋子 田中"}'.encode(), [pki.intermediate_cert])
    response = make_timestamp_response(pki.tsa_key, pki.tsa_cert, [], serial=42, gen_time=now - timedelta(minutes=1),
                                       nonce=7, policy_oid="1.2.3.4.1",
                                       message_imprint=hashlib.sha256(signature_value(signature)).digest())
    return {"signature": signature, "token": token_of(response), "response": response,
            "imprint": hashlib.sha256(signature_value(signature)).digest()}


@pytest.fixture(params=["signature", "token"])
def original(request, structures) -> bytes:
    return structures[request.param]


@pytest.mark.req("11.10(a)")
def test_a_real_signature_and_token_are_read_in_one_pass_as_the_reference_reads_them(original):
    assert encode(parse(original)) == original  # the DER writer of these tests writes DER
    reference = cms._read_signed_data_reference(original)
    assert one_pass.read_signed_data(original) == reference
    assert cms._read_signed_data(original) == reference


@pytest.mark.req("11.10(a)")
def test_what_the_one_pass_reader_reads_is_what_asn1crypto_reads(original):
    data = one_pass.read_signed_data(original)
    signed = asn1_cms.ContentInfo.load(original, strict=True)["content"]
    signer = signed["signer_infos"][0]
    assert data.content_type == signed["encap_content_info"]["content_type"].dotted
    content = signed["encap_content_info"]["content"]
    assert data.content == (None if content.native is None else content.parsed.dump() if content.parsed is not None
                            else content.native)
    assert data.certificates == tuple(choice.chosen.dump() for choice in signed["certificates"])
    assert data.signer.digest_oid == signer["digest_algorithm"]["algorithm"].dotted
    assert data.signer.signature_oid == signer["signature_algorithm"]["algorithm"].dotted
    assert data.signer.signature == signer["signature"].native
    assert data.signer.signed_attrs is not None and data.signer.signed_attrs.raw == signer["signed_attrs"].dump()
    assert sorted(data.signer.attributes) == sorted(attribute["type"].dotted for attribute in signer["signed_attrs"])
    sid = signer["sid"].chosen
    assert (data.signer.serial, data.signer.issuer) == (sid["serial_number"].native, sid["issuer"].dump())


def _variants(original: bytes) -> dict[str, bytes]:
    tree = parse(original)
    signer_info = at(tree, SIGNER_INFO)
    attrs = at(tree, SIGNED_ATTRS)
    assert attrs[0] == 0xA0 and len(attrs[1]) >= 3
    variants = {
        "truncated by one byte": original[:-1],
        "truncated inside the signer info": original[:len(original) - 40],
        "truncated to its header": original[:4],
        "empty": b"",
        "one byte": original[:1],
        "outer length one too long": original[:2] + (int.from_bytes(original[2:4], "big") + 1).to_bytes(2, "big")
        + original[4:],
        "outer length one too short": original[:2] + (int.from_bytes(original[2:4], "big") - 1).to_bytes(2, "big")
        + original[4:],
        "a zero byte after the structure": original + b"\x00",
        "a second structure after it": original + b"\x05\x00",
        "multi-byte outer tag": b"\x3f" + original[1:],
        "five-byte length": b"\x30\x85\x00" + original[2:],
        "second signer info": changed(original, SIGNER_INFOS, lambda node: node[1].append(signer_info)),
        "no signer info": changed(original, SIGNER_INFOS, lambda node: node[1].clear()),
        "unsigned attribute added": changed(original, SIGNER_INFO, lambda node: node[1].append(
            [0xA1, [[0x30, [[0x06, bytes.fromhex("2a864886f70d010906")], [0x31, [[0x04, b"countersigned"]]]]]]])),
        "signed attribute duplicated": changed(original, SIGNED_ATTRS, lambda node: node[1].append(node[1][0])),
        "signed attributes reordered": changed(original, SIGNED_ATTRS, lambda node: node[1].reverse()),
        "signed attribute with two values": changed(original, SIGNED_ATTRS + (0, 1),
                                                    lambda node: node[1].append(node[1][0])),
        "signed attribute without values": changed(original, SIGNED_ATTRS + (0, 1), lambda node: node[1].clear()),
        "signed attribute with a third part": changed(original, SIGNED_ATTRS + (0,),
                                                      lambda node: node[1].append([0x05, b""])),
        "an element after the signer infos": changed(original, SIGNED_DATA, lambda node: node[1].append([0x05, b""])),
        "an element after SignedData in its wrapper": changed(original, (1,), lambda node: node[1].append([0x05, b""])),
        "a third element in the ContentInfo": changed(original, (), lambda node: node[1].append([0x05, b""])),
        "CRLs added before the signer infos": changed(original, SIGNED_DATA, lambda node: node[1].insert(-1, [0xA1, []])),
        "certificates removed": changed(original, SIGNED_DATA,
                                        lambda node: node[1].__delitem__(3) if node[1][3][0] == 0xA0 else None),
        "a non-certificate in the certificate set": changed(original, SIGNED_DATA + (3,),
                                                             lambda node: node[1].append([0x02, b"\x01"])),
        "content type OID padded": changed(original, (0,), lambda node: node.__setitem__(1, b"\x80" + node[1])),
        "content type OID empty": changed(original, (0,), lambda node: node.__setitem__(1, b"")),
        "content type OID unterminated": changed(original, (0,), lambda node: node.__setitem__(1, node[1] + b"\x81")),
        "signer identified by key id": changed(original, SIGNER_INFO, lambda node: node[1].__setitem__(
            1, [0x80, b"\x01" * 20])),
        "signer identifier of three parts": changed(original, SIGNER_INFO + (1,),
                                                    lambda node: node[1].append([0x02, b"\x01"])),
        "serial not an integer": changed(original, SIGNER_INFO + (1, 1), lambda node: node.__setitem__(0, 0x04)),
        "empty serial": changed(original, SIGNER_INFO + (1, 1), lambda node: node.__setitem__(1, b"")),
        "digest algorithm as a SET": changed(original, SIGNER_INFO + (2,), lambda node: node.__setitem__(0, 0x31)),
        "digest algorithm empty": changed(original, SIGNER_INFO + (2,), lambda node: node[1].clear()),
        "signature algorithm as [0]": changed(original, SIGNER_INFO + (4,), lambda node: node.__setitem__(0, 0xA0)),
        "signature as a BIT STRING": changed(original, SIGNER_INFO + (5,), lambda node: node.__setitem__(0, 0x03)),
        "signature missing": changed(original, SIGNER_INFO, lambda node: node[1].pop()),
        "signed attributes primitive": changed(original, SIGNED_ATTRS, lambda node: node.__setitem__(
            1, encode([0x31, node[1]])[2:]) or node.__setitem__(0, 0x80)),
        "signed attributes empty": changed(original, SIGNED_ATTRS, lambda node: node[1].clear()),
        "version not an integer": changed(original, SIGNED_DATA + (0,), lambda node: node.__setitem__(0, 0x04)),
        "digest algorithms a SEQUENCE": changed(original, SIGNED_DATA + (1,), lambda node: node.__setitem__(0, 0x30)),
        "encapsulated content empty": changed(original, SIGNED_DATA + (2,), lambda node: node[1].clear()),
        "encapsulated content not an OID": changed(original, SIGNED_DATA + (2, 0),
                                                   lambda node: node.__setitem__(0, 0x04)),
        "not SignedData": changed(original, (0,), lambda node: node.__setitem__(1, bytes.fromhex("2a864886f70d010701"))),
        "wrapper [1] instead of [0]": changed(original, (1,), lambda node: node.__setitem__(0, 0xA1)),
        "wrapper empty": changed(original, (1,), lambda node: node[1].clear()),
        "SignedData as a SET": changed(original, SIGNED_DATA, lambda node: node.__setitem__(0, 0x31)),
        "signer infos as a SEQUENCE": changed(original, SIGNER_INFOS, lambda node: node.__setitem__(0, 0x30)),
        "signer info as a SET": changed(original, SIGNER_INFO, lambda node: node.__setitem__(0, 0x31)),
    }
    if at(tree, SIGNED_DATA + (2,))[1][1:]:  # an encapsulated content (the token's TSTInfo)
        variants["content not OCTETS"] = changed(original, SIGNED_DATA + (2, 1, 0), lambda node: node.__setitem__(0, 0x0C))
        variants["two contents"] = changed(original, SIGNED_DATA + (2, 1), lambda node: node[1].append(node[1][0]))
        variants["content wrapper empty"] = changed(original, SIGNED_DATA + (2, 1), lambda node: node[1].clear())
        variants["content detached"] = changed(original, SIGNED_DATA + (2,), lambda node: node[1].pop())
    # Lengths in every form at every depth of the path to the signed attributes (and a level below them).
    for depth in range(8):
        for form in ("indefinite", "one more byte", "four bytes"):
            variants[f"{form} length at depth {depth}"] = encode(tree, {depth: form})
    variants["every length one byte longer"] = encode(tree, dict.fromkeys(range(12), "one more byte"))
    return variants


@pytest.mark.req("11.10(a)")
def test_every_structural_variant_is_read_or_refused_as_the_reference_does(original):
    variants = _variants(original)
    assert len(variants) > 70
    refused = 0
    for name, data in variants.items():
        try:
            assert_read_alike(data)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
        refused += outcome(cms._read_signed_data_reference, data)[0] == "refused"
    assert 20 < refused < len(variants)  # both kinds are exercised


@pytest.mark.req("11.10(a)")
def test_the_one_pass_reader_declines_damage_rather_than_reading_it(original):
    for name in ("signed attribute duplicated", "a zero byte after the structure", "indefinite length at depth 3",
                 "signed attribute with a third part", "truncated by one byte"):
        with pytest.raises((one_pass.Unusual, Invalid)):
            one_pass.read_signed_data(_variants(original)[name])


MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.sampled_from([0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x1F, 0x30,
                                                                       0x31, 0x3F, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84,
                                                                       0xA0, 0xA1, 0xFF])),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=3)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 4)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
)


def mutate(data: bytes, mutations) -> bytes:
    changed_bytes = bytearray(data)
    for kind, position, argument in mutations:
        if not changed_bytes:
            break
        position %= len(changed_bytes)
        if kind == "flip":
            changed_bytes[position] ^= argument
        elif kind == "set":
            changed_bytes[position] = argument
        elif kind == "insert":
            changed_bytes[position:position] = argument
        elif kind == "delete":
            del changed_bytes[position:position + argument]
        else:
            del changed_bytes[position:]
    return bytes(changed_bytes)


@pytest.mark.req("11.10(a)")
@settings(settings.get_profile("one-pass"))
@given(which=st.sampled_from(["signature", "token"]), mutations=st.lists(MUTATIONS, min_size=1, max_size=3),
       header_only=st.booleans())
def test_mutated_signatures_and_tokens_are_read_or_refused_as_the_reference_does(structures, which, mutations,
                                                                                  header_only):
    original = structures[which]
    if header_only:  # aim at the tags and lengths of the outer levels, where the readers differ most
        mutations = [(kind, position % 64, argument) for kind, position, argument in mutations]
    assert_read_alike(mutate(original, mutations))


# --- the time-stamp response around the token, and the token's TSTInfo -------------------------------------

def stamped_time_outcomes(content: bytes, imprint: bytes) -> None:
    for digest in (imprint, bytes(32)):
        assert outcome(lambda data, digest=digest: timestamp._stamped_time(data, digest), content) == \
            outcome(lambda data, digest=digest: timestamp._stamped_time_reference(data, digest), content), content.hex()


def token_outcomes(response: bytes) -> None:
    assert outcome(timestamp.token_of, response) == outcome(timestamp._token_of_reference, response), response.hex()


def _tst_info(structures) -> bytes:
    content = cms.signed_data(structures["token"]).content
    assert content is not None
    return content


def _around(data: bytes) -> dict[str, bytes]:
    """Variants of a response or a TSTInfo: the same kinds as above, at its own levels."""
    tree = parse(data)
    variants = {"as is": data, "truncated": data[:-1], "a byte after it": data + b"\x00", "empty": b"",
                "an element added": changed(data, (), lambda node: node[1].append([0x05, b""])),
                "first element removed": changed(data, (), lambda node: node[1].pop(0)),
                "all elements removed": changed(data, (), lambda node: node[1].clear()),
                "first element's tag changed": changed(data, (0,), lambda node: node.__setitem__(0, 0x31)),
                "second element primitive": changed(data, (), lambda node: node[1].__setitem__(1, [0x04, b"x"])),
                "multi-byte tag": b"\x3f" + data[1:]}
    for depth in range(4):
        for form in ("indefinite", "one more byte", "four bytes"):
            variants[f"{form} length at depth {depth}"] = encode(tree, {depth: form})
    return variants


@pytest.mark.req("11.10(a)")
def test_the_token_in_a_response_is_found_as_the_reference_finds_it(structures):
    response = structures["response"]
    assert timestamp._token_of_one_pass(response) == timestamp._token_of_reference(response) == structures["token"]
    assert timestamp._token_of_one_pass(structures["token"]) is structures["token"]
    variants = _around(response)
    variants["refused"] = changed(response, (0, 0), lambda node: node.__setitem__(1, b"\x02"))
    variants["refused with a reason"] = changed(response, (0,), lambda node: (
        node[1][0].__setitem__(1, b"\x02"), node[1].append([0x30, [[0x0C, "再送してください".encode()]]])))
    variants["status empty"] = changed(response, (0,), lambda node: node[1].clear())
    variants["status code a string"] = changed(response, (0, 0), lambda node: node.__setitem__(0, 0x0C))
    variants["granted without a token"] = changed(response, (), lambda node: node[1].pop())
    for name, data in variants.items():
        try:
            token_outcomes(data)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


@pytest.mark.req("11.10(a)", "11.10(e)")
def test_the_stamped_time_and_imprint_are_read_as_the_reference_reads_them(structures):
    content = _tst_info(structures)
    gen_time = timestamp._tst_info_one_pass(content)[2]
    assert timestamp._stamped_time(content, structures["imprint"]) == \
        timestamp._stamped_time_reference(content, structures["imprint"]) == timestamp.moment(gen_time)
    variants = _around(content)
    variants["imprint algorithm SHA-384"] = changed(content, (2, 0, 0), lambda node: node.__setitem__(
        1, bytes.fromhex("608648016503040202")))
    variants["imprint algorithm a SET"] = changed(content, (2, 0), lambda node: node.__setitem__(0, 0x31))
    variants["imprint digest a BIT STRING"] = changed(content, (2, 1), lambda node: node.__setitem__(0, 0x03))
    variants["imprint of three parts"] = changed(content, (2,), lambda node: node[1].append([0x05, b""]))
    variants["time in local form"] = changed(content, (4,), lambda node: node.__setitem__(1, node[1][:-1]))
    variants["time a UTCTime"] = changed(content, (4,), lambda node: (node.__setitem__(0, 0x17),
                                                                      node.__setitem__(1, node[1][2:])))
    variants["time an INTEGER"] = changed(content, (4,), lambda node: node.__setitem__(0, 0x02))
    variants["only four fields"] = changed(content, (), lambda node: node[1].__delitem__(slice(4, None)))
    for name, data in variants.items():
        try:
            stamped_time_outcomes(data, structures["imprint"])
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


@pytest.mark.req("11.10(a)", "11.10(e)")
@settings(settings.get_profile("one-pass"))
@given(which=st.sampled_from(["response", "tst info"]), mutations=st.lists(MUTATIONS, min_size=1, max_size=3),
       header_only=st.booleans())
def test_mutated_responses_and_tst_infos_are_read_or_refused_as_the_reference_does(structures, which, mutations,
                                                                                    header_only):
    original = structures["response"] if which == "response" else _tst_info(structures)
    if header_only:
        mutations = [(kind, position % 48, argument) for kind, position, argument in mutations]
    data = mutate(original, mutations)
    if which == "response":
        token_outcomes(data)
    else:
        stamped_time_outcomes(data, structures["imprint"])
