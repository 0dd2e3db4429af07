"""Electronic signatures that are real cryptographic signatures (21 CFR Part 11, ER/ES, EU Annex 11 §14).

Importing the package registers its account hooks (re-wrap the signing key on a password change, revoke
the certificate on a reset or a deactivation), so that edms.users never imports signatures.
"""
from edms.signatures import keys as _keys  # noqa: F401  (registers the account hooks)
