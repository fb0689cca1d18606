"""Property: no body of any shape makes /api/sync answer 5xx."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Database

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
_counter = itertools.count()

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
FIELDS = ["s", "u", "sid", "sm", "ec", "ea", "el", "ev", "r", "eid", "ts", "meta", "batch"]


@pytest.fixture(scope="module")
async def site(db: Database) -> Site:
    async with db.system() as conn:
        return await create_site(conn, name="Fuzz", domain="fuzz.example", public_id="fuzz_site")


def valid_event() -> dict[str, Any]:
    return {"s": "fuzz_site", "u": "https://fuzz.example/", "sid": str(uuid.uuid4()), "ec": "interaction",
            "ea": "scroll_depth", "ev": 50, "eid": uuid.uuid4().hex, "meta": {"fp": "f"}}  # fmt: skip


def _dumps(value: Any) -> bytes:
    # The stdlib encoder: it writes integers beyond 64 bits, which the server must survive.
    return json.dumps(value, allow_nan=False).encode()


#: numbers around the limits of the columns they may reach (int4, int8, the 1e12 of ``ev``)
edge_numbers = st.one_of(
    st.sampled_from([2**31 - 1, 2**31, 3e9, 2**63, 1e12, 1e12 + 1, -(2**31) - 1, 0.5, -1]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(min_value=-1e13, max_value=1e13),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(["mutated", "mutated_batch", "json", "bytes", "session_end", "numbers"])
    )
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return _dumps(draw(json_values))
    if kind in ("session_end", "numbers"):
        # Valid events whose numbers land in bounded columns (session durations, scores).
        event = valid_event()
        if kind == "session_end":
            event.update(ec="system", ea="session_end")
        else:
            event["ea"] = draw(st.sampled_from(["scroll_depth", "heartbeat", "session_end"]))
        event["ev"] = draw(edge_numbers)
        return _dumps({"batch": [valid_event() | {"sid": event["sid"]}, event]})
    event = valid_event()
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            event.pop(name, None)
        else:
            event[name] = draw(json_values)
    if kind == "mutated_batch":
        return _dumps({"batch": [valid_event(), event]})
    return _dumps(event)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies())
async def test_no_body_causes_a_server_error(
    client: httpx.AsyncClient, site: Site, body: bytes
) -> None:
    n = next(_counter)
    response = await client.post(
        "/api/sync",
        content=body,
        headers={
            "user-agent": CHROME,
            "x-forwarded-for": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
        },
    )
    assert response.status_code < 500, (body[:300], response.text)
    assert response.headers["content-type"].startswith("application/json")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(action=st.sampled_from(["session_end", "heartbeat", "scroll_depth"]), value=edge_numbers)
async def test_valid_numbers_are_stored_and_others_refused(
    client: httpx.AsyncClient, site: Site, action: str, value: float
) -> None:
    """Any ``ev`` validation lets through is stored, whatever column it reaches (a
    session_end's value becomes the session's duration); anything else is a 400."""
    event = valid_event() | {"ec": "system", "ea": action, "ev": value}
    body = _dumps({"batch": [valid_event() | {"sid": event["sid"]}, event]})
    n = next(_counter)
    response = await client.post(
        "/api/sync",
        content=body,
        headers={"user-agent": CHROME, "x-forwarded-for": f"10.200.{n // 256 % 256}.{n % 256}"},
    )
    if abs(value) <= 1e12:
        assert response.status_code == 200, (value, response.text)
    else:
        assert response.status_code == 400, (value, response.text)
        assert response.json()["error"] == "invalid_value"
