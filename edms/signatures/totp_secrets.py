"""TOTP shared secrets are stored sealed under a server key (never in clear, never under the person's password,
which an administrator's reset replaces): the `totp_key` setting, or else one derived from the secret key.
Each secret is bound to its account, so a sealed value copied to another person's row does not open."""
from __future__ import annotations

from edms.config import Settings
from edms.crypto.sealing import derive_key, seal, unseal
from edms.signatures.models import TotpEnrolment

PURPOSE = "totp secrets"


def sealing_key(settings: Settings) -> bytes:
    return derive_key(settings.totp_key or settings.secret_key, PURPOSE)


def _binding(user_id: int) -> str:
    return f"totp_enrolments.user_id={user_id}"


def seal_secret(key: bytes, user_id: int, secret: bytes) -> str:
    return seal(key, secret, _binding(user_id))


def secret_of(key: bytes, enrolment: TotpEnrolment) -> bytes:
    """The shared secret; `SealBroken` if the server key is not the one it was sealed under."""
    return unseal(key, enrolment.sealed_secret, _binding(enrolment.user_id))
