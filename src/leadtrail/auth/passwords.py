"""Password hashing with argon2id (argon2-cffi's recommended parameters) and the password
policy, one for every way in (CLI, first-run admin, API).

The policy follows NIST SP 800-63B: a length range rather than composition rules, and a
check against passwords known from breaches. The check uses zxcvbn, which ships the most
common breached passwords and English words, names and keyboard patterns, and estimates
how many guesses a password would take; under 10^6 (zxcvbn score < 2) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from leadtrail.errors import BadRequest

MIN_LENGTH = 8
#: Longest password accepted anywhere (login takes the same bound, so every password that
#: can be set can also be typed at login).
MAX_LENGTH = 1024
#: zxcvbn's lowest acceptable score: 2 means at least 10^6 guesses.
MIN_SCORE = 2
#: zxcvbn refuses longer input; the rest of a long password only adds strength.
_ESTIMATED_PREFIX = 72
_hasher = PasswordHasher()


def _weak(detail: str) -> BadRequest:
    return BadRequest(detail, code="weak_password", field="password")


def check_strength(password: str, user_inputs: Sequence[str] = ()) -> None:
    """Raise 400 ``weak_password`` unless ``password`` meets the policy; ``user_inputs``
    (the e-mail, the name) count as guessable words."""
    if len(password) < MIN_LENGTH:
        raise _weak(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise _weak(f"password must have at most {MAX_LENGTH} characters")
    if not password.strip():
        raise _weak("password must not be only spaces")
    words = [w for text in user_inputs for w in text.replace("@", " ").replace(".", " ").split()]
    estimate = zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=words)
    if estimate["score"] < MIN_SCORE:
        raise _weak(
            "password is too easy to guess (a common or breached password, a word, "
            "a name or a pattern): use a longer passphrase"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises on a bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")


def burn_verification_time(password: str) -> None:
    """Spend as long as a real check so unknown emails cannot be told apart by timing."""
    verify_password(_dummy_hash(), password)
