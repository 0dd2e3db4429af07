"""RFC 3161 time-stamps: the internal TSA, external TSAs over HTTP, verification, and openssl agreeing."""
import hashlib
import http.server
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edms.crypto.cms import sign_detached, signature_value
from edms.crypto.pki import bootstrap_pki, build_crl, generate_private_key
from edms.crypto.tsa import (
    TimestampError,
    build_timestamp_request,
    make_timestamp_response,
    request_external_timestamp,
    token_from_response,
    verify_timestamp,
)
from tests.unit.crypto.conftest import certified_key, write_pem

POLICY = "1.2.3.4.1"


@pytest.fixture(scope="module")
def signature_bytes(pki, now):
    """What edms stamps: the signature value of a user's CMS signature."""
    key, cert = certified_key(pki, now, "Jane Doe", "j.doe", "user-0003")
    return signature_value(sign_detached(key, cert, b"manifest bytes", [pki.intermediate_cert]))


@pytest.fixture(scope="module")
def digest(signature_bytes):
    return hashlib.sha256(signature_bytes).digest()


def stamp(pki, digest, gen_time, *, nonce=None, key=None, cert=None):
    return make_timestamp_response(key or pki.tsa_key, cert or pki.tsa_cert, [], message_imprint=digest,
                                   serial=7, gen_time=gen_time, nonce=nonce, policy_oid=POLICY)


@pytest.fixture(scope="module")
def response(pki, digest, now):
    return stamp(pki, digest, now, nonce=123456789)


def tsa_certificate(pki, public_key, *, eku_critical=True, now):
    """A TSA certificate issued by the root to any key, for interoperability and negative cases."""
    return (
        x509.CertificateBuilder()
        .issuer_name(pki.root_cert.subject)
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other TSA")]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=eku_critical)
        .sign(pki.root_key, hashes.SHA256())
    )


def openssl_ts_verify(tmp_path, response, data, pki):
    (tmp_path / "token.tsr").write_bytes(response)
    (tmp_path / "sigvalue.bin").write_bytes(data)
    return subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(tmp_path / "token.tsr"), "-data", str(tmp_path / "sigvalue.bin"),
         "-CAfile", write_pem(tmp_path / "ca.pem", pki.root_cert),
         "-untrusted", write_pem(tmp_path / "tsa.pem", pki.tsa_cert)],
        capture_output=True, text=True,
    )


def refusal(**status):
    """A TimeStampResp without a token, as a refusing TSA sends it (RFC 3161 §2.4.2)."""
    info = tsp.PKIStatusInfo(status).dump()
    return bytes([0x30, len(info)]) + info


def test_internal_tsa_grants_a_token_stamping_the_digest_at_the_given_time(response, pki, digest, now):
    parsed = tsp.TimeStampResp.load(response)
    assert parsed["status"]["status"].native == "granted"
    signed_data = parsed["time_stamp_token"]["content"]
    assert signed_data["encap_content_info"]["content_type"].native == "tst_info"
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["gen_time"].native == now
    assert tst_info["serial_number"].native == 7
    assert tst_info["nonce"].native == 123456789
    assert tst_info["policy"].native == POLICY
    attributes = {a["type"].native for a in signed_data["signer_infos"][0]["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= attributes
    certificates = [c.chosen.dump() for c in signed_data["certificates"]]
    assert pki.tsa_cert.public_bytes(serialization.Encoding.DER) in certificates


def test_nonce_is_omitted_when_none_is_given(pki, digest, now):
    token = token_from_response(stamp(pki, digest, now))
    tst_info = asn1_cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    assert tst_info["nonce"].native is None


def test_imprint_must_be_a_sha256_digest(pki, now):
    with pytest.raises(ValueError, match="32 bytes"):
        stamp(pki, b"short", now)


def test_response_and_bare_token_both_verify(response, pki, digest, now):
    for artefact in (response, token_from_response(response)):
        result = verify_timestamp(artefact, digest, [pki.root_cert])
        assert result.ok, result.reason
        assert result.gen_time == now
        assert result.tsa_cert == pki.tsa_cert


@pytest.mark.req("11.70")
def test_timestamp_for_other_data_fails(response, pki):
    result = verify_timestamp(response, hashlib.sha256(b"another signature").digest(), [pki.root_cert])
    assert not result.ok
    assert result.reason == "the time-stamp is for other data"


@pytest.mark.req("11.70")
def test_changed_time_inside_the_token_fails(response, pki, digest):
    content_info = asn1_cms.ContentInfo.load(token_from_response(response))
    encapsulated = content_info["content"]["encap_content_info"]
    tst_info = encapsulated["content"].parsed
    tst_info["gen_time"] = datetime(2020, 1, 1, tzinfo=UTC)
    encapsulated["content"] = tst_info
    result = verify_timestamp(content_info.dump(force=True), digest, [pki.root_cert])
    assert not result.ok
    assert result.reason == "time-stamp token: content does not match the signed message digest"


def test_tsa_outside_the_trusted_roots_fails(response, digest, now):
    stranger = bootstrap_pki("Another Org", now - timedelta(days=1))
    result = verify_timestamp(response, digest, [stranger.root_cert])
    assert not result.ok and "does not chain to a trusted root" in result.reason


def test_token_signed_with_a_certificate_not_restricted_to_time_stamping_fails(pki, digest, now):
    by_system = stamp(pki, digest, now, key=pki.system_key, cert=pki.system_cert)
    result = verify_timestamp(by_system, digest, [pki.root_cert])
    assert not result.ok and "critical timeStamping" in result.reason
    key = generate_private_key()
    non_critical = tsa_certificate(pki, key.public_key(), eku_critical=False, now=now)
    result = verify_timestamp(stamp(pki, digest, now, key=key, cert=non_critical), digest, [pki.root_cert])
    assert not result.ok and "critical timeStamping" in result.reason


def test_token_whose_certificate_was_swapped_for_another_with_the_same_key_fails(response, pki, digest, now):
    """The ESS signing-certificate attribute pins the exact TSA certificate, not just its key."""
    twin = asn1_x509.Certificate.load(
        tsa_certificate(pki, pki.tsa_key.public_key(), now=now).public_bytes(serialization.Encoding.DER)
    )
    content_info = asn1_cms.ContentInfo.load(token_from_response(response))
    signed_data = content_info["content"]
    signed_data["certificates"] = [twin]
    signed_data["signer_infos"][0]["sid"] = asn1_cms.SignerIdentifier(
        name="issuer_and_serial_number", value={"issuer": twin.issuer, "serial_number": twin.serial_number}
    )
    result = verify_timestamp(content_info.dump(force=True), digest, [pki.root_cert])
    assert not result.ok
    assert result.reason == "the time-stamp's signing-certificate attribute names another certificate"


@pytest.mark.req("11.300(c)")
def test_tsa_certificate_revoked_after_the_stamp_still_verifies_revoked_before_fails(response, pki, digest, now):
    def verify_with_tsa_revoked_at(moment):
        crl = build_crl(pki.root_cert, pki.root_key, [(pki.tsa_cert.serial_number, moment)], moment,
                        moment + timedelta(days=7))
        return verify_timestamp(response, digest, [pki.root_cert], crls=[crl])

    assert verify_with_tsa_revoked_at(now + timedelta(minutes=1)).ok
    revoked = verify_with_tsa_revoked_at(now - timedelta(minutes=1))
    assert not revoked.ok and "revoked on" in revoked.reason


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01\x05", b"not a time-stamp"])
def test_input_that_is_not_a_timestamp_fails_with_a_reason(pki, digest, garbage):
    result = verify_timestamp(garbage, digest, [pki.root_cert])
    assert not result.ok and result.reason


def test_refused_response_reports_the_tsas_status():
    refused = refusal(status="rejection", status_string=["unsupported policy"])
    with pytest.raises(TimestampError, match="refused: rejection unsupported policy"):
        token_from_response(refused)
    result = verify_timestamp(refused, bytes(32), [])
    assert result.reason == "the time-stamping authority refused: rejection unsupported policy"


def test_granted_response_without_a_token_is_refused():
    with pytest.raises(TimestampError, match="carries no token"):
        token_from_response(refusal(status="granted"))


@pytest.mark.req("11.30")
@pytest.mark.req("ERES-e-signature")
def test_openssl_ts_verifies_the_token_over_the_signature_value(response, pki, signature_bytes, tmp_path):
    result = openssl_ts_verify(tmp_path, response, signature_bytes, pki)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout


@pytest.mark.req("11.30")
@pytest.mark.req("11.70")
def test_openssl_ts_rejects_the_token_for_other_data(response, pki, signature_bytes, tmp_path):
    result = openssl_ts_verify(tmp_path, response, signature_bytes[:-1] + bytes([signature_bytes[-1] ^ 1]), pki)
    assert result.returncode != 0
    assert "Verification: FAILED" in result.stdout


def test_openssl_accepts_the_timestamp_request(digest, tmp_path):
    (tmp_path / "request.tsq").write_bytes(build_timestamp_request(digest, 424242))
    shown = subprocess.run(["openssl", "ts", "-query", "-in", str(tmp_path / "request.tsq"), "-text"],
                           capture_output=True, text=True, check=True).stdout
    assert "Hash Algorithm: sha256" in shown
    assert "Nonce: 0x067932" in shown
    assert "Certificate required: yes" in shown


@pytest.mark.parametrize("key_kind, ess_cert_id_alg", [("ec", "sha256"), ("rsa", "sha1")])
def test_token_issued_by_openssl_as_a_tsa_verifies_here(pki, digest, now, tmp_path, key_kind, ess_cert_id_alg):
    """Interoperability with external TSAs: RSA keys and the SHA-1 ESSCertID of RFC 2634 as well."""
    key = generate_private_key() if key_kind == "ec" else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = tsa_certificate(pki, key.public_key(), now=now)
    (tmp_path / "tsa.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / "serial").write_text("01\n")
    (tmp_path / "ts.cnf").write_text(
        "[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\n"
        f"serial = {tmp_path / 'serial'}\nsigner_digest = sha256\ndefault_policy = {POLICY}\n"
        f"digests = sha256\naccuracy = secs:1\ness_cert_id_alg = {ess_cert_id_alg}\n"
    )
    (tmp_path / "request.tsq").write_bytes(build_timestamp_request(digest, 99))
    subprocess.run(
        ["openssl", "ts", "-reply", "-config", str(tmp_path / "ts.cnf"), "-queryfile", str(tmp_path / "request.tsq"),
         "-signer", write_pem(tmp_path / "tsa.pem", cert), "-inkey", str(tmp_path / "tsa.key"),
         "-out", str(tmp_path / "reply.tsr")],
        capture_output=True, check=True,
    )
    result = verify_timestamp((tmp_path / "reply.tsr").read_bytes(), digest, [pki.root_cert])
    assert result.ok, result.reason
    assert result.tsa_cert == cert


class FakeExternalTsa(http.server.BaseHTTPRequestHandler):
    """An RFC 3161 TSA over HTTP on localhost, signing with real keys; `mode` makes it misbehave."""

    pki = None
    mode = "honest"

    def do_POST(self):  # noqa: N802 (the http.server API)
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        imprint = request["message_imprint"]["hashed_message"].native
        nonce = request["nonce"].native
        if self.mode == "replay":
            nonce += 1
        if self.mode == "other-data":
            imprint = hashlib.sha256(imprint).digest()
        body = make_timestamp_response(self.pki.tsa_key, self.pki.tsa_cert, [self.pki.root_cert],
                                       message_imprint=imprint, serial=1, gen_time=datetime.now(UTC),
                                       nonce=nonce, policy_oid=POLICY)
        if self.mode == "refuse":
            body = refusal(status="rejection", fail_info={"bad_alg"})
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def external_tsa(pki):
    def start(mode):
        handler = type("Handler", (FakeExternalTsa,), {"pki": pki, "mode": mode})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/tsa"

    servers = []
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_external_tsa_reply_is_returned_and_verifies(external_tsa, pki, digest):
    response = request_external_timestamp(external_tsa("honest"), digest, timeout=5)
    result = verify_timestamp(response, digest, [pki.root_cert])
    assert result.ok, result.reason


@pytest.mark.parametrize("mode, message", [
    ("replay", "does not carry the nonce"),
    ("other-data", "stamps other data"),
    ("refuse", "refused: rejection bad_alg"),
])
def test_external_tsa_reply_that_does_not_answer_the_request_is_refused(external_tsa, digest, mode, message):
    with pytest.raises(TimestampError, match=message):
        request_external_timestamp(external_tsa(mode), digest, timeout=5)


def test_unreachable_external_tsa_raises_timestamp_error(digest):
    with pytest.raises(TimestampError, match="did not answer"):
        request_external_timestamp("http://127.0.0.1:9/tsa", digest, timeout=2)


def test_external_tsa_is_reached_only_over_http(digest):
    with pytest.raises(ValueError, match="http or https"):
        request_external_timestamp("file:///etc/passwd", digest, timeout=1)
