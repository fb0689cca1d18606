from __future__ import annotations

import pytest

from leadtrail.auth.passwords import check_strength, hash_password, verify_password
from leadtrail.errors import BadRequest


def test_hash_verifies_only_the_right_password() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password("not-a-hash", "correct horse")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(BadRequest):
        check_strength("short")
    check_strength("long enough")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 8, "only spaces"),
        ("\t \t \t \t ", "only spaces"),
        ("password1", "easy to guess"),
        ("12345678", "easy to guess"),
        ("iloveyou1", "easy to guess"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_the_policy_refuses(password: str, why: str) -> None:
    with pytest.raises(BadRequest, match=why) as refused:
        check_strength(password)
    assert refused.value.code == "weak_password"


def test_the_accounts_own_email_counts_as_guessable() -> None:
    check_strength("margaret-thatcher")
    with pytest.raises(BadRequest, match="easy to guess"):
        check_strength("margaretthatcher1", ["margaretthatcher1@example.com"])


def test_long_passphrases_pass_whatever_their_length() -> None:
    check_strength("correct horse battery staple")
    check_strength("long passphrase " * 64)
