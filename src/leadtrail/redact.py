"""Secrets never reach a log line: API keys, session tokens, passwords, signing secrets.

Installed as the process's log record factory (``install()``), so it covers every logger,
uvicorn's included (its WebSocket lines print the query string, where realtime clients put
``apikey`` and dashboard ``token`` values). This module imports nothing from the package.
"""

from __future__ import annotations

import logging
import re

MASK = "[redacted]"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # query strings and form bodies: ?apikey=… &token=… password=…
    (
        re.compile(
            r"(?i)\b((?:apikey|api_key|access_token|refresh_token|token|password|passwd|secret|"
            r"session|jwt|key)=)[^&\s\"']+"
        ),
        r"\1" + MASK,
    ),
    # Authorization headers
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # leadtrail API keys wherever they appear: keep the public prefix only
    (re.compile(r"\b(lt_[a-z0-9]{8})_[A-Za-z0-9]{32}\b"), r"\1_" + MASK),
    # webhook signing secrets
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}"), "whsec_" + MASK),
    # URLs with a password: postgresql://user:secret@host
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1" + MASK + "@"),
)


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def install() -> None:
    """Make every log record carry its message already redacted (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "leadtrail_redacts", False):
        return

    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave the record to report it
            return record
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return record

    make.leadtrail_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make)
