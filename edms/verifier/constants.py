"""Rules of the edms formats, defined once: the application, the integrity run and the offline verifier import them."""
from __future__ import annotations

from datetime import timedelta

PACKAGE_TYPE = "edms.inspection-package"
PACKAGE_FORMATS = (1,)
MANIFEST = "manifest.json"
# The seal over manifest.json cannot list itself: these are the only files manifest.json does not name.
SEAL_SIGNATURE = "manifest.json.p7s"
SEAL_VALUE = "manifest.json.sigvalue.bin"
SEAL_TIMESTAMP = "manifest.json.tsr"
SEAL_FILES = (MANIFEST, SEAL_SIGNATURE, SEAL_VALUE, SEAL_TIMESTAMP)
SIGNATURE_MANIFEST_TYPE = "edms.electronic-signature"
CHECKPOINT_TYPE = "edms.audit-checkpoint"
# edms requests the time-stamp right after signing: a signing time further from it was not written by edms.
SIGNING_TIME_TOLERANCE = timedelta(minutes=10)
# Root CA -> signing CA -> person: a certificate issued directly by the root (the system's, the TSA's) is
# not a person's.
USER_CHAIN_LENGTH = 3
SIGNED_ACTIONS = ("signature.signed", "signature.rejected")
GENESIS_HASH = "0" * 64
# The columns of an audit event covered by its hash, in the order the application stores them.
AUDIT_HASHED_FIELDS = (
    "seq", "occurred_at", "actor_id", "actor_name", "action", "object_type", "object_id", "document_version",
    "case_id", "changes", "reason", "request_id", "client_addr", "app_version", "prev_hash",
)
TREE_HEAD_TYPE = "edms.audit-tree-head"
