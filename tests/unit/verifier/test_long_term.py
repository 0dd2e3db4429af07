"""Archive time-stamps keep a detached signature verifiable for 30 years: a simulated life of the
organisation PKI from 2026 to 2056 (TSA renewals, a root rollover), with real keys, certificates, CRLs and
RFC 3161 tokens made at the simulated moments, judged at a moment of judgement in 2056."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from edms.crypto.cms import sign_detached, signature_value
from edms.crypto.pki import generate_private_key, issue_user_certificate
from edms.pki.evidence import evidence_record, next_archive_stamp
from edms.pki.lifecycle import renew_tsa, rollover_root
from edms.pki.store import SIGNING_CA, TSA, FilePkiStore, PkiStore
from edms.verifier.archive import verify_long_term
from edms.verifier.errors import Invalid
from edms.verifier.evidence import decode_evidence_record, encode_evidence_record

ORG = "Example Cell Therapy K.K."
SIGNED = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
JUDGED = datetime(2056, 12, 7, 9, 0, tzinfo=UTC)
MANIFEST = b'{"type":"edms.electronic-signature","meaning":"approved","content_sha256":"ab12"}'


@dataclass
class Life:
    """One signature and the evidence added to it over the years."""

    store: PkiStore
    cms: bytes
    stamp: bytes
    stamps: list[bytes] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def archive(self, now: datetime) -> bool:
        """One run of the archiver at `now`: True when it added an archive time-stamp."""
        tsa = self.store.internal_tsa()
        made = next_archive_stamp(self.store, MANIFEST, self.cms, self.stamp, self.stamps,
                                  timestamp=lambda digest: tsa.timestamp(digest, now=now), now=now)
        if made is None:
            return False
        self.stamps.append(made.archive_stamp)
        self.reasons.append(made.reason)
        return True

    def verify(self, at: datetime, stamps: list[bytes] | None = None):
        chosen = self.stamps if stamps is None else stamps
        return verify_long_term(MANIFEST, self.cms, self.stamp, evidence_record(chosen),
                                self.store.trust_anchors().roots, at=at)


def signed(tmp_path) -> Life:
    store = FilePkiStore(tmp_path / "pki", "simulation-passphrase")
    store.create(ORG, now=SIGNED - timedelta(hours=2), kdf_iterations=1000)
    key = generate_private_key()
    cert = issue_user_certificate(store.certificate(SIGNING_CA), store.private_key(SIGNING_CA), key.public_key(),
                                  printed_name="Dr. Hanako Sato", username="h.sato", user_id="7",
                                  org_name=ORG, now=SIGNED - timedelta(hours=1))
    cms = sign_detached(key, cert, MANIFEST, [store.certificate(SIGNING_CA)])
    stamp = store.internal_tsa().timestamp(hashlib.sha256(signature_value(cms)).digest(), now=SIGNED)
    return Life(store, cms, stamp)


def lived(tmp_path) -> Life:
    """2026 to 2050: the archiver runs while the PKI is renewed and rolled over."""
    life = signed(tmp_path)
    assert life.archive(SIGNED + timedelta(days=1))  # the first, with the validation data
    assert not life.archive(SIGNED + timedelta(days=2))  # nothing due: idempotent
    renew_tsa(life.store, ORG, now=datetime(2035, 6, 1, tzinfo=UTC), kdf_iterations=1000)
    assert not life.archive(datetime(2035, 6, 2, tzinfo=UTC))  # more than a year left
    assert life.archive(datetime(2036, 1, 15, tzinfo=UTC))  # the first TSA expires in December 2036
    assert not life.archive(datetime(2040, 1, 1, tzinfo=UTC))
    rollover_root(life.store, ORG, now=datetime(2040, 1, 2, tzinfo=UTC), kdf_iterations=1000)
    assert life.archive(datetime(2044, 9, 1, tzinfo=UTC))  # the second TSA (first root) expires in June 2045
    renew_tsa(life.store, ORG, now=datetime(2049, 6, 1, tzinfo=UTC), kdf_iterations=1000)
    assert life.archive(datetime(2049, 6, 2, tzinfo=UTC))  # the third TSA (second root) expires in January 2050
    return life


@pytest.fixture(scope="module")
def life(tmp_path_factory) -> Life:
    return lived(tmp_path_factory.mktemp("life"))


@pytest.mark.req("LTV")
def test_a_signature_validates_in_2056_across_tsa_renewals_and_a_root_rollover_given_its_archive_timestamps(life):
    result = life.verify(JUDGED)

    assert result.archive_count == 4
    assert result.signature.stamp.gen_time == SIGNED
    assert [layer.gen_time.year for layer in result.layers] == [2026, 2026, 2036, 2044, 2049]
    assert result.valid_until > JUDGED


@pytest.mark.req("LTV")
def test_by_2056_every_certificate_involved_has_expired_but_the_newest_time_stamps_tsa_and_root(life):
    result = life.verify(JUDGED)
    newest = result.layers[-1].chain  # the TSA of the last renewal and the root of the rollover
    involved = {cert for chain in (result.signature.signed.chain, *(layer.chain for layer in result.layers))
                for cert in chain if cert not in newest}

    assert len(involved) == 6  # the person, the signing CA, the first root and three TSAs
    assert all(cert.not_valid_after_utc < JUDGED for cert in involved)
    assert {cert.subject for cert in result.layers[-1].chain} != {cert.subject for cert in result.layers[0].chain}


@pytest.mark.req("LTV")
def test_the_same_signature_validates_today_without_archive_timestamps_and_fails_in_2056_without_them(life):
    assert life.verify(SIGNED + timedelta(days=1), stamps=[]).archive_count == 0

    with pytest.raises(Invalid, match="the signature's time-stamp can no longer be trusted .*Time-Stamping "
                                      "Authority is not valid on 2056-12-07"):
        life.verify(JUDGED, stamps=[])


@pytest.mark.req("LTV")
def test_in_2056_archive_timestamps_that_stop_before_the_last_renewal_are_not_enough(life):
    with pytest.raises(Invalid, match="archive time-stamp 3 can no longer be trusted"):
        life.verify(JUDGED, stamps=life.stamps[:3])


@pytest.mark.req("LTV")
def test_every_addition_says_why_it_was_due(life):
    assert life.reasons[0].startswith("first archive time-stamp")
    assert life.reasons[1] == "the certificate chain of archive time-stamp 1 expires on 2036-12-07 07:30:00 UTC"
    assert "archive time-stamp 2 expires on 2045-06-01" in life.reasons[2]
    assert "archive time-stamp 3 expires on 2050-01-02" in life.reasons[3]


@pytest.mark.req("LTV")
def test_an_archive_timestamp_added_after_the_previous_certificate_expired_is_refused(tmp_path):
    life = signed(tmp_path)
    assert life.archive(SIGNED + timedelta(days=1))
    renew_tsa(life.store, ORG, now=datetime(2037, 3, 1, tzinfo=UTC), kdf_iterations=1000)

    with pytest.raises(Invalid, match="archive time-stamp 1 can no longer be trusted"):
        life.archive(datetime(2037, 3, 2, tzinfo=UTC))


@pytest.mark.req("LTV")
def test_changed_validation_data_or_a_removed_archive_timestamp_in_the_middle_fail(life):
    second_removed = [life.stamps[0], *life.stamps[2:]]
    with pytest.raises(Invalid, match="archive time-stamp 2 does not cover what it must"):
        life.verify(JUDGED, stamps=second_removed)

    first = decode_evidence_record(encode_evidence_record(life.stamps[:1]))[0]
    other_crl_bytes = bytearray(first.raw)
    position = other_crl_bytes.find(first.validation) + len(first.validation) - 5
    other_crl_bytes[position] ^= 0x01  # inside the last CRL's signature
    with pytest.raises(Invalid):
        life.verify(JUDGED, stamps=[bytes(other_crl_bytes), *life.stamps[1:]])


@pytest.mark.req("LTV")
def test_a_changed_manifest_fails_with_its_archive_timestamps(life):
    with pytest.raises(Invalid, match="content does not match"):
        verify_long_term(MANIFEST + b" ", life.cms, life.stamp, evidence_record(life.stamps),
                         life.store.trust_anchors().roots, at=JUDGED)


def test_a_tsa_renewal_and_a_root_rollover_keep_the_old_certificates_and_trust_both_roots(life):
    anchors = life.store.trust_anchors()

    assert len(anchors.roots) == 2
    assert "Root CA 2040-01-02" in anchors.roots[0].subject.rfc4514_string()
    assert len(life.store.retired_certificates(TSA)) == 3


ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"


@pytest.mark.req("LTV")
def test_an_algorithm_retirement_makes_a_new_archive_timestamp_due_and_evidence_relying_on_it_fails_afterwards(
        tmp_path):
    life = signed(tmp_path)
    assert life.archive(SIGNED + timedelta(days=1))
    retired = {ECDSA_WITH_SHA256: datetime(2029, 1, 1, tzinfo=UTC)}
    tsa = life.store.internal_tsa()
    now = datetime(2028, 6, 1, tzinfo=UTC)

    made = next_archive_stamp(life.store, MANIFEST, life.cms, life.stamp, life.stamps, retired=retired, now=now,
                              timestamp=lambda digest: tsa.timestamp(digest, now=now))

    assert made is not None and made.reason == (f"the algorithm {ECDSA_WITH_SHA256} of archive time-stamp 1 is "
                                                "retired from 2029-01-01 00:00:00 UTC")
    with pytest.raises(Invalid, match=f"uses the algorithm {ECDSA_WITH_SHA256}, retired since 2029-01-01"):
        verify_long_term(MANIFEST, life.cms, life.stamp, evidence_record([*life.stamps, made.archive_stamp]),
                         life.store.trust_anchors().roots, at=datetime(2029, 6, 1, tzinfo=UTC), retired=retired)
