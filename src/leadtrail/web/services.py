"""What routes need, built once per app in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from leadtrail.auth.service import Authenticator
from leadtrail.config import Settings
from leadtrail.storage import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: Authenticator


def services(conn: HTTPConnection) -> Services:
    value = conn.app.state.services
    assert isinstance(value, Services)
    return value
