"""Least privilege: the table of scopes and operations, enforced over the whole OpenAPI document.

Every operation must declare what it needs (``x-leadtrail-access``), docs/security.md must
show the same table, and each operation is called with a ``read``, an ``ingest`` and an
``admin`` key: a scope the table does not grant gets 403, a granted one never does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from leadtrail.auth.api_keys import create_key
from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from leadtrail.web.access_table import REQUIRED, SCOPE_GRANTS
from tests.conftest import LiveServer

DOC = Path(__file__).parents[2] / "docs" / "security.md"
ROW = re.compile(r"^\| `(GET|POST|PATCH|PUT|DELETE|OPTIONS) ([^`]+)` \| (\w+) \|")
#: path parameters that are not ids
PATH_VALUES = {
    "dimension": "browser",
    "topic": "room",
    "event": "ping",
    "kind": "twilio",
    "action": "pause",
    "number": "+14195550199",
}
#: query parameters an operation needs before it looks at the caller
QUERIES: dict[str, dict[str, str]] = {
    "/api/privacy/export": {"kind": "email", "value": "nobody@example.com"},
    "/api/sync/dynamodb/checksum": {"table": "firespring-visitors"},
}


@pytest.fixture(scope="module")
async def keys(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        owner = await create_user(conn, "scopes-owner@example.com", "correct horse")
        site = await create_site(conn, name="Scopes", domain="scopes.example", owner_id=owner.id)
        made = {s: await create_key(conn, site.id, name=s, scopes=[s]) for s in SCOPE_GRANTS}
    return {"site": site, **{s: k.key for s, k in made.items()}}


def _body(method: str, path: str, site: str) -> Any:
    bodies: dict[str, Any] = {
        "/api/identify": {"site_id": site, "email": "scopes@example.com"},
        "/api/leads": {"site_id": site, "email": "scopes@example.com"},
        "/api/call-event": {"site_id": site, "phone_number": "+14195550100"},
        "/api/ad-spend": {
            "site_id": site,
            "rows": [{"campaign_id": "1", "date": "2026-01-05", "cost": "1"}],
        },
        "/api/auth/login": {"email": "nobody@example.com", "password": "not the password"},
        "/realtime/v1/api/broadcast": {
            "messages": [{"topic": "room", "event": "e", "payload": {}}]
        },
        "/api/sites/{site}/keys": {"name": "made by the scope test", "scopes": ["read"]},
        "/api/sites/{site}/members": {"email": "nobody@example.com", "role": "viewer"},
        "/api/sites/{site}/members/{user_id}": {"role": "viewer"},
        "/api/calls/{call_id}": {"status": "qualified"},
        "/api/leads/{lead_id}": {"status": "qualified"},
        "/api/privacy/erase": {"site_id": site, "kind": "email", "value": "nobody@example.com"},
        "/api/calls/{call_id}/match": {"session_id": str(uuid4())},
        "/api/sites/{site}/call-providers/{kind}": {"secret": "a-shared-secret-of-some-length"},
        "/api/sites/{site}/dni/numbers": {"number": "+14195550199"},
        "/api/experiments": {
            "site_id": site,
            "test_id": "scopes-test",
            "test_name": "Scopes",
            "variants": [{"name": "a"}, {"name": "b"}],
            "goal": {"type": "form_lead"},
        },
        "/api/proposals": {
            "site_id": site,
            "proposal_id": "scopes-1",
            "friction_point": "a button",
            "change_description": "make it a link",
        },
        "/api/proposals/{proposal_id}": {"pr_number": 1},
        "/api/proposals/{proposal_id}/transition": {"to": "approved"},
        "/api/webhooks": {
            "site_id": site,
            "url": "https://hooks.example.com/leadtrail",
            "events": ["lead.created"],
        },
        "/api/heartbeats": {
            "site_id": site,
            "component_type": "scope-test",
            "component_id": "scope-test-1",
            "component_name": "scope test",
            "status": "healthy",
        },
    }
    if method in ("GET", "DELETE", "OPTIONS"):
        return None
    return bodies.get(path, {})


def _url(path: str, site: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return site if name == "site" else PATH_VALUES.get(name, str(uuid4()))

    return re.sub(r"\{(\w+)\}", value, path)


async def test_every_operation_follows_the_scope_table(
    server: LiveServer, keys: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        schema = (await http.get("/openapi.json")).json()
        operations = {
            f"{method.upper()} {path}": op
            for path, ops in schema["paths"].items()
            for method, op in ops.items()
        }
        undeclared = [k for k, op in operations.items() if "x-leadtrail-access" not in op]
        assert not undeclared, f"operations without x-leadtrail-access: {undeclared}"
        documented = {
            f"{m.group(1)} {m.group(2)}": m.group(3)
            for line in DOC.read_text().splitlines()
            if (m := ROW.match(line))
        }
        assert (
            documented == REQUIRED == {k: op["x-leadtrail-access"] for k, op in operations.items()}
        )

        site = keys["site"].public_id
        wrong: list[str] = []
        for name, need in sorted(REQUIRED.items()):
            method, path = name.split(" ", 1)
            for scope, grants in SCOPE_GRANTS.items():
                response = await http.request(
                    method,
                    _url(path, site),
                    params={"site_id": site, **QUERIES.get(path, {})},
                    json=_body(method, path, site),
                    headers={"Authorization": f"Bearer {keys[scope]}"},
                )
                allowed = need in grants
                code = (
                    response.json().get("error")
                    if response.headers.get("content-type", "").startswith("application/json")
                    and response.status_code >= 400
                    else None
                )
                # a scope refusal is 403 insufficient_role; other 403s (origin) are not about scope
                refused = response.status_code == 403 and code == "insufficient_role"
                denied = code in (
                    "unauthorized",
                    "login_required",
                    "invalid_api_key",
                    "superuser_required",
                )
                if need == "user":  # a dashboard login only: every key is turned away
                    if not denied:
                        wrong.append(f"{name} with a {scope} key: {response.status_code} {code}")
                    continue
                if refused == allowed or (allowed and denied):
                    wrong.append(f"{name} with a {scope} key: {response.status_code} {code}")
        assert not wrong, "\n".join(wrong)
