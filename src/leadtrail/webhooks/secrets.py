"""Endpoint signing secrets: ``whsec_`` + base64 of 24 random bytes, stored encrypted with
a Fernet key derived (HKDF-SHA256) from the server's secret key."""

from __future__ import annotations

import base64
import secrets as _secrets

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(_secrets.token_bytes(24)).decode()


class SecretBox:
    def __init__(self, server_key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"leadtrail webhook secrets"
        ).derive(server_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        return self._fernet.decrypt(bytes(sealed)).decode()
