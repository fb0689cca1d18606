"""The server's signing key: from settings, else generated once into the data dir."""

from __future__ import annotations

import os
import secrets as _secrets

from leadtrail.config import Settings


def signing_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret_key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        key = _secrets.token_hex(32).encode()
        handle.write(key)
    return key
