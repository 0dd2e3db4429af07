"""The organisation PKI kept on disk: creation at `edms init`, the system signer, the internal TSA."""
from edms.pki.store import (
    PkiError,
    PkiStore,
    SystemSigner,
    TrustAnchors,
    system_signer,
    trust_anchors,
)

__all__ = ["PkiError", "PkiStore", "SystemSigner", "TrustAnchors", "system_signer", "trust_anchors"]
