"""Argon2id password hashing and the checks of a new password against the policy (21 CFR 11.300(a)-(b));
the policy itself is the `[password]` section of the settings (edms.config.PasswordPolicy)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edms.config import PasswordPolicy
from edms.errors import N_, UserError


def _hasher(policy: PasswordPolicy) -> PasswordHasher:
    return PasswordHasher(
        time_cost=policy.argon2_time_cost,
        memory_cost=policy.argon2_memory_kib,
        parallelism=policy.argon2_parallelism,
    )


class PasswordRejected(UserError):
    pass


def hash_password(policy: PasswordPolicy, password: str) -> str:
    return _hasher(policy).hash(password)


def verify_password(policy: PasswordPolicy, stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return _hasher(policy).verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_password(policy: PasswordPolicy, username: str, password: str, previous_hashes: list[str]) -> None:
    """Raise PasswordRejected with a message a person can act on."""
    if len(password) < policy.min_length:
        raise PasswordRejected(N_("The password must have at least %(n)d characters."), n=policy.min_length)
    if username.casefold() in password.casefold():
        raise PasswordRejected(N_("The password must not contain the user name."))
    if len(set(password)) < 4:
        raise PasswordRejected(N_("The password is too repetitive."))
    for old in previous_hashes[: policy.history]:
        if verify_password(policy, old, password):
            raise PasswordRejected(N_("The password must differ from your last %(n)d passwords."), n=policy.history)
