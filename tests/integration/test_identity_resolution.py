"""Identity resolution against PostgreSQL: fingerprints, shared devices, merges, unmerge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from leadtrail.storage import Database
from tests.integration.people_support import (
    Tenant,
    add_session,
    fetch,
    make_tenant,
    person_of,
    resolve_all,
)


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "ident")


async def test_resolver_links_sessions_of_one_fingerprint(db: Database, tenant: Tenant) -> None:
    early = datetime.now(UTC) - timedelta(days=2)
    a = await add_session(db, tenant.site_id, fingerprint="fp-laptop-1", start=early)
    b = await add_session(db, tenant.site_id, fingerprint="fp-laptop-1", ip="198.51.100.4")
    c = await add_session(db, tenant.site_id, fingerprint="fp-other-1")
    await resolve_all(db)
    pa, pb, pc = [await person_of(db, tenant.site_id, s) for s in (a, b, c)]
    assert pa is not None and pa == pb and pc not in (None, pa)
    [row] = await fetch(
        db,
        "SELECT total_sessions, is_returning_visitor, total_actions FROM canonical_users WHERE id = $1",
        pa,
    )
    assert row["total_sessions"] == 2 and row["is_returning_visitor"] and row["total_actions"] == 6


async def test_identical_phones_from_two_networks_at_once_are_split(
    db: Database, tenant: Tenant
) -> None:
    # Two identical phones: same fingerprint, different homes. The first one is seen alone,
    # the second overlaps a third visit from the first home: the fingerprint is shared.
    now = datetime.now(UTC)
    home_a = await add_session(
        db, tenant.site_id, fingerprint="fp-iphone", ip="192.0.2.10", start=now - timedelta(days=1)
    )
    await resolve_all(db)
    home_b = await add_session(
        db,
        tenant.site_id,
        fingerprint="fp-iphone",
        ip="198.18.0.20",
        start=now - timedelta(hours=5),
    )
    await resolve_all(db)
    # Before any contradiction the second phone joins the first (nothing tells them apart).
    assert await person_of(db, tenant.site_id, home_b) == await person_of(
        db, tenant.site_id, home_a
    )
    again_a = await add_session(
        db,
        tenant.site_id,
        fingerprint="fp-iphone",
        ip="192.0.2.10",
        start=now - timedelta(minutes=10),
        minutes=8,
    )
    at_b = await add_session(
        db,
        tenant.site_id,
        fingerprint="fp-iphone",
        ip="198.18.0.20",
        start=now - timedelta(minutes=6),
        minutes=4,
    )
    await resolve_all(db)
    pa, pb = (
        await person_of(db, tenant.site_id, home_a),
        await person_of(db, tenant.site_id, home_b),
    )
    assert pa != pb
    assert await person_of(db, tenant.site_id, again_a) == pa
    assert await person_of(db, tenant.site_id, at_b) == pb
    [link] = await fetch(
        db,
        "SELECT state, state_reason FROM identity_links WHERE kind = 'fingerprint' AND value = 'fp-iphone'",
    )
    assert link["state"] == "shared" and link["state_reason"] == "concurrent_networks"


async def identify(client: httpx.AsyncClient, tenant: Tenant, **body: object) -> httpx.Response:
    return await client.post(
        "/api/identify", json={"site_id": tenant.public_id, **body}, headers=tenant.auth()
    )


async def test_identify_ties_devices_and_merge_then_unmerge_restores_both(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    laptop = await add_session(
        db, tenant.site_id, fingerprint="fp-anna-laptop", ip="192.0.2.50", events=4
    )
    phone = await add_session(
        db,
        tenant.site_id,
        fingerprint="fp-anna-phone",
        ip="100.64.3.9",
        device_type="mobile",
        events=2,
    )
    await resolve_all(db)
    p_laptop, p_phone = (
        await person_of(db, tenant.site_id, laptop),
        await person_of(db, tenant.site_id, phone),
    )
    assert p_laptop != p_phone
    first = await identify(client, tenant, session_id=str(laptop), email="Anna@Example.com")
    assert first.status_code == 200, first.text
    assert first.json()["canonical_user_id"] == str(p_laptop) and first.json()["merges"] == []
    lead = await client.post(
        "/api/leads",
        json={
            "site_id": tenant.public_id,
            "external_lead_id": "crm-anna",
            "session_id": str(phone),
            "email": "anna@example.com",
            "phone": "+1 419 555 0134",
        },
        headers=tenant.auth(),
    )
    assert lead.status_code == 201, lead.text
    snapshot_tables = """
        SELECT id, total_sessions, total_actions, total_page_views, first_seen_at, last_seen_at,
               is_returning_visitor, converted_to_lead, total_leads, preferred_device, merged_into
        FROM canonical_users WHERE id = ANY($1::uuid[]) ORDER BY id"""
    # The lead ties the phone's visitor to Anna: one merge, everything follows.
    body = lead.json()
    assert len(body["merges"]) == 1
    survivor = uuid.UUID(body["canonical_user_id"])
    assert {survivor} == {await person_of(db, tenant.site_id, s) for s in (laptop, phone)}
    [merged] = await fetch(db, snapshot_tables, [survivor])
    assert (
        merged["total_sessions"] == 2
        and merged["total_actions"] == 6
        and merged["converted_to_lead"]
    )

    undo = await client.post(
        f"/api/identity/merges/{body['merges'][0]}/undo",
        params={"site_id": tenant.public_id},
        headers=tenant.auth(),
    )
    assert undo.status_code == 200, undo.text
    loser = p_phone if survivor == p_laptop else p_laptop
    assert await person_of(db, tenant.site_id, laptop) != await person_of(db, tenant.site_id, phone)
    again = await client.post(
        f"/api/identity/merges/{body['merges'][0]}/undo",
        params={"site_id": tenant.public_id},
        headers=tenant.auth(),
    )
    assert again.status_code == 409 and again.json()["error"] == "already_undone"
    rows = {r["id"]: r for r in await fetch(db, snapshot_tables, [survivor, loser])}
    assert rows[loser]["merged_into"] is None and rows[loser]["total_sessions"] == 1
