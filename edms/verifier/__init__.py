"""The one verifier of edms: CMS signatures, RFC 3161 time-stamps, certificate chains and revocation, the
audit log's hash chain, and inspection packages, with nothing but the standard library and `cryptography`.

It imports no other edms module and no asn1crypto, so the same code that judges signatures in the
application ships inside every inspection package (as a zipapp, see `edms.verifier.bundle`) and runs
offline (`edms-verify PACKAGE.zip`).
"""
