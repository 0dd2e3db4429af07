"""Pure rules for accounts: user names, roles and the password policy."""
import pytest

from edms.config import PasswordPolicy
from edms.users.passwords import PasswordRejected, check_new_password, hash_password
from edms.users.roles import RoleError, check_role_set
from edms.users.usernames import UsernameRejected, check_username, normalise_username

FAST = PasswordPolicy(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


@pytest.mark.req("PICS-9.5")
@pytest.mark.parametrize("name", ["admin", "QA", "lab", "test", "user", "qa.1", "lab-2", "test_user", "admin01"])
def test_generic_user_names_are_refused_for_people(name):
    with pytest.raises(UsernameRejected, match="generic"):
        check_username(name)


@pytest.mark.req("11.100(a)")
def test_user_names_are_normalised_so_lookalikes_are_the_same_name():
    assert normalise_username(" Ｋenji.Sato ") == "kenji.sato"
    assert check_username("Kenji.Sato") == "kenji.sato"


@pytest.mark.parametrize("name", ["ab", "1kenji", "kenji sato", "kenji/sato", "../etc"])
def test_malformed_user_names_are_refused(name):
    with pytest.raises(UsernameRejected):
        check_username(name)


@pytest.mark.req("PICS-9.5")
def test_administrators_cannot_hold_content_roles():
    with pytest.raises(RoleError, match="administrator"):
        check_role_set({"admin", "qa"})
    with pytest.raises(RoleError, match="inspector"):
        check_role_set({"inspector", "author"})
    check_role_set({"qa", "regulatory"})


@pytest.mark.req("11.300(a)-(b)")
def test_password_policy_length_user_name_and_history():
    with pytest.raises(PasswordRejected, match="at least 12"):
        check_new_password(FAST, "kenji.sato", "Short-1!", [])
    with pytest.raises(PasswordRejected, match="user name"):
        check_new_password(FAST, "kenji.sato", "my-kenji.sato-pass", [])
    old = hash_password(FAST, "Previous-Pass-2025")
    with pytest.raises(PasswordRejected, match="last 5"):
        check_new_password(FAST, "kenji.sato", "Previous-Pass-2025", [old])
    check_new_password(FAST, "kenji.sato", "A-New-Pass-2026", [old])


def test_hashes_are_argon2id():
    assert hash_password(FAST, "Correct-Horse-2026!").startswith("$argon2id$")
