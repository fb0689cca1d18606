"""Provider secrets, encrypted at rest with Fernet under a key derived from the server's
secret key (they must be recoverable: verifying a request needs the secret itself)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def _fernet(server_key: bytes) -> Fernet:
    derived = hashlib.sha256(b"leadtrail.call-providers\x00" + server_key).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(server_key: bytes, secret: str) -> str:
    return _fernet(server_key).encrypt(secret.encode()).decode()


def decrypt(server_key: bytes, token: str) -> str | None:
    """The secret, or None when it was stored under another server key."""
    try:
        return _fernet(server_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None
