"""The organisation PKI (encrypted files on one node, or an HSM): creation at `edms init`, the system signer,
the internal TSA."""
from edms.pki.store import (
    FilePkiStore,
    PkiError,
    PkiStore,
    SystemSigner,
    TrustAnchors,
    system_signer,
    trust_anchors,
)

__all__ = ["FilePkiStore", "PkiError", "PkiStore", "SystemSigner", "TrustAnchors", "system_signer", "trust_anchors"]
