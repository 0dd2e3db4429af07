"""Argon2id password hashing and the password policy (21 CFR 11.300(a)-(b))."""
from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edms.errors import N_, UserError


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    history: int = 5
    max_age_days: int = 90
    lockout_threshold: int = 5
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 2

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.argon2_time_cost,
            memory_cost=self.argon2_memory_kib,
            parallelism=self.argon2_parallelism,
        )


class PasswordRejected(UserError):
    pass


def hash_password(policy: PasswordPolicy, password: str) -> str:
    return policy.hasher().hash(password)


def verify_password(policy: PasswordPolicy, stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        return False
    try:
        return policy.hasher().verify(stored_hash, password)
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
