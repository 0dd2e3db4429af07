"""An external RFC 3161 TSA makes the archive time-stamps when one is configured (tsa_url, tsa_ca_file):
certomancer's Animator serves a test PKI's TSA and CRLs on the loopback interface, and the archiver
fetches the external TSA's CRL from its certificate's distribution point for the validation data."""
from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import CertomancerConfig
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from werkzeug.serving import make_server

from edms.application import archiving
from edms.application.services import build_services
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.config import load_settings
from edms.pki.store import PkiStore
from edms.signatures.archive_models import ArchiveTimestamp
from edms.signatures.archive_queries import evidence_record
from edms.signatures.models import Signature
from edms.verifier.archive import verify_long_term
from edms.verifier.evidence import decode_evidence_record, decode_validation_data


def _key(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _config(prefix: str, now: datetime) -> dict:
    moment = "%Y-%m-%dT%H:%M:%S+0000"
    validity = {"valid-from": (now - timedelta(days=1)).strftime(moment)}
    return {
        "external-url-prefix": prefix,
        "keysets": {"external": {"path-prefix": "keys", "keys": {"root": {"path": "root.pem"},
                                                                 "tsa": {"path": "tsa.pem"}}}},
        "pki-architectures": {"external": {
            "keyset": "external",
            "entity-defaults": {"country-name": "JP", "organization-name": "Example Trust Services K.K."},
            "entities": {"root": {"common-name": "Example Trust Root"},
                         "tsa": {"common-name": "Example Trust Time-Stamping Unit"}},
            "certs": {
                "root": {"subject": "root", "issuer": "root",
                         "validity": {**validity, "valid-to": (now + timedelta(days=3650)).strftime(moment)},
                         "extensions": [
                             {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                             {"id": "key_usage", "critical": True,
                              "smart-value": {"schema": "key-usage", "params": ["key_cert_sign", "crl_sign"]}}]},
                # Its last year already: every run of the archiver renews what it stamped.
                "tsa": {"subject": "tsa", "issuer": "root",
                        "validity": {**validity, "valid-to": (now + timedelta(days=200)).strftime(moment)},
                        "extensions": [
                            {"id": "key_usage", "critical": True,
                             "smart-value": {"schema": "key-usage", "params": ["digital_signature"]}},
                            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                            {"id": "crl_distribution_points",
                             "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}}}]},
            },
            "services": {
                "crl-repo": {"root": {"for-issuer": "root", "signing-key": "root",
                                      "simulated-update-schedule": "PT1S"}},
                "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
            },
        }},
    }


@pytest.fixture
def external_tsa(tmp_path):
    """(TSA URL, its root as a PEM file): certomancer's Animator on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tmp_path / "external-tsa"
    (directory / "keys").mkdir(parents=True)
    _key(directory / "keys" / "root.pem")
    _key(directory / "keys" / "tsa.pem")
    (directory / "certomancer.yml").write_text(yaml.safe_dump(_config(f"http://127.0.0.1:{port}", datetime.now(UTC))))
    config = CertomancerConfig.from_file(str(directory / "certomancer.yml"))
    architecture = config.get_pki_arch("external")
    root_pem = tmp_path / "external-root.pem"
    root_pem.write_bytes(x509.load_der_x509_certificate(architecture.get_cert("root").dump())
                         .public_bytes(serialization.Encoding.PEM))
    server = make_server("127.0.0.1", port, Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/external/tsa/tsa", root_pem
    server.shutdown()
    thread.join()


@pytest.fixture
def services(database_url, data_dir, signed_case, external_tsa):
    url, root_pem = external_tsa
    settings = load_settings("testing", overrides={"database_url": database_url, "data_dir": str(data_dir),
                                                   "tsa_url": url, "tsa_ca_file": str(root_pem)})
    services = build_services(settings)
    yield services
    services.engine.dispose()


def run(services) -> archiving.ArchiverReport:
    [report] = archiving.archive_timestamps(services, None, AuditContext.system("edms archive-timestamps (test)"),
                                            archivers=(archiving.archive_detached_signatures,))
    return report


@pytest.mark.req("LTV")
def test_the_external_tsa_stamps_the_archive_and_its_crl_is_fetched_for_the_next_one(services, signed_case,
                                                                                      external_tsa):
    first = run(services)
    second = run(services)  # the external TSA certificate ends within a year: renewed at once

    assert (first.added, first.problems) == (len(signed_case.signatures), [])
    assert (second.added, second.problems) == (len(signed_case.signatures), [])
    store = PkiStore.for_settings(services.settings)
    external_root = list(store.trust_anchors(services.settings.tsa_ca_file).tsa_roots)
    with command(services.sessions) as session:
        assert {row.tsa_subject for row in session.scalars(select(ArchiveTimestamp))} == {
            "CN=Example Trust Time-Stamping Unit,O=Example Trust Services K.K.,C=JP"}
        for signature in session.scalars(select(Signature)):
            record = evidence_record(session, signature.id)
            result = verify_long_term(signature.manifest, signature.cms, signature.timestamp_response, record,
                                      store.trust_anchors().roots, tsa_roots=[*store.trust_anchors().roots,
                                                                              *external_root],
                                      at=datetime.now(UTC))
            assert result.archive_count == 2
            assert result.layers[1].chain[-1] == external_root[0]
            _, crls = decode_validation_data(decode_evidence_record(record)[1].validation)
            assert len(crls) == 1  # the external root's CRL, fetched from the TSA certificate's distribution point
