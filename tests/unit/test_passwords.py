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
