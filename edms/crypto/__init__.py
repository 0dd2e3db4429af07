"""The pure cryptographic core: PKI, private keys at rest, CMS signatures, RFC 3161 time-stamps.

No Flask, no database: keys and times are passed in, and every artefact is a standard format
(DER/PEM certificates and CRLs, encrypted PKCS#8, CMS SignedData, RFC 3161) that openssl can check.
"""
from edms.crypto.cms import CmsVerification, sign_detached, signature_value, signer_certificate, verify_detached
from edms.crypto.keywrap import (
    WrongPassword,
    encrypt_private_key_pem,
    load_encrypted_private_key_pem,
    rewrap_user_key,
    unwrap_user_key,
    wrap_user_key,
)
from edms.crypto.pki import (
    PkiMaterial,
    bootstrap_pki,
    build_crl,
    create_intermediate_ca,
    create_root_ca,
    create_system_certificate,
    create_tsa_certificate,
    generate_private_key,
    issue_user_certificate,
)
from edms.crypto.tsa import (
    TimestampError,
    TimestampVerification,
    build_timestamp_request,
    make_timestamp_response,
    request_external_timestamp,
    token_from_response,
    verify_timestamp,
)

__all__ = [
    "CmsVerification",
    "PkiMaterial",
    "TimestampError",
    "TimestampVerification",
    "WrongPassword",
    "bootstrap_pki",
    "build_crl",
    "build_timestamp_request",
    "create_intermediate_ca",
    "create_root_ca",
    "create_system_certificate",
    "create_tsa_certificate",
    "encrypt_private_key_pem",
    "generate_private_key",
    "issue_user_certificate",
    "load_encrypted_private_key_pem",
    "make_timestamp_response",
    "request_external_timestamp",
    "rewrap_user_key",
    "sign_detached",
    "signature_value",
    "signer_certificate",
    "token_from_response",
    "unwrap_user_key",
    "verify_detached",
    "verify_timestamp",
    "wrap_user_key",
]
