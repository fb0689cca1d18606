"""Identity resolution against PostgreSQL: fingerprints, shared devices, merges, unmerge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from leadtrail.storage import Database
from leadtrail.storage.marks import mark_sessions
from tests.conftest import ModuleDatabase, leadtrail_cli
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


async def test_totals_follow_later_activity_of_a_resolved_session(
    db: Database, tenant: Tenant
) -> None:
    session = await add_session(db, tenant.site_id, fingerprint="fp-busy-reader")
    await resolve_all(db)
    person = await person_of(db, tenant.site_id, session)
    # The ingest writer adds events to the session later and marks the person (as every
    # writer of sessions does, storage/marks.py); the resolver's next pass refreshes the totals.
    async with db.system() as conn:
        changed = await conn.fetch(
            "UPDATE sessions SET event_count = event_count + 7 WHERE site_id = $1 AND id = $2 "
            "RETURNING site_id, created_at, canonical_user_id",
            tenant.site_id,
            session,
        )
        await mark_sessions(conn, changed)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM leadtrail.people_dirty WHERE site_id = $1 AND canonical_user_id = $2",
                tenant.site_id,
                person,
            )
            == 1
        )
    await resolve_all(db)
    [row] = await fetch(db, "SELECT total_actions FROM canonical_users WHERE id = $1", person)
    assert row["total_actions"] == 3 + 7


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


SNAPSHOT_USERS = """
    SELECT id, first_seen_at, last_seen_at, total_sessions, total_actions, total_page_views,
           total_duration_sec, is_returning_visitor, converted_to_lead, lead_id, total_leads,
           total_calls, primary_ip_address, primary_location, preferred_browser, preferred_os,
           preferred_device, primary_referrer_type, merged_into, attributes
    FROM canonical_users WHERE id = ANY($1::uuid[]) ORDER BY id"""


async def snapshot(db: Database, site_id: uuid.UUID, people: list[uuid.UUID]) -> dict[str, object]:
    return {
        "users": [dict(r) for r in await fetch(db, SNAPSHOT_USERS, people)],
        "sessions": sorted(
            (r["id"], r["canonical_user_id"])
            for r in await fetch(
                db,
                "SELECT id, canonical_user_id FROM sessions WHERE site_id = $1 AND canonical_user_id = ANY($2::uuid[])",
                site_id,
                people,
            )
        ),
        "leads": sorted(
            (r["id"], r["canonical_user_id"])
            for r in await fetch(
                db,
                "SELECT id, canonical_user_id FROM leads WHERE site_id = $1 AND canonical_user_id = ANY($2::uuid[])",
                site_id,
                people,
            )
        ),
        "calls": sorted(
            (r["id"], r["canonical_user_id"])
            for r in await fetch(
                db,
                "SELECT id, canonical_user_id FROM calls WHERE site_id = $1 AND canonical_user_id = ANY($2::uuid[])",
                site_id,
                people,
            )
        ),
        "links": sorted(
            (r["kind"], r["value"], r["canonical_user_id"])
            for r in await fetch(
                db,
                "SELECT kind, value, canonical_user_id FROM identity_links WHERE site_id = $1 AND canonical_user_id = ANY($2::uuid[])",
                site_id,
                people,
            )
        ),
    }


@dataclass
class MergedPair:
    """Two people, A (two sessions, a lead) and B (one session, a matched call), merged by
    one identify call; ``before`` is both as they were before the merge."""

    a: uuid.UUID
    b: uuid.UUID
    a_sessions: tuple[uuid.UUID, uuid.UUID]
    b_session: uuid.UUID
    before: dict[str, object]
    merge_id: str
    survivor: uuid.UUID


async def merge_two_people(
    db: Database, tenant: Tenant, client: httpx.AsyncClient, tag: str, number: int
) -> MergedPair:
    """``tag`` keeps fingerprints and the email apart between tests; ``number`` (two
    digits) the tracked and caller phone numbers."""
    now = datetime.now(UTC)
    a1 = await add_session(
        db,
        tenant.site_id,
        fingerprint=f"fp-{tag}-a",
        ip=f"192.0.2.{number}",
        start=now - timedelta(days=3),
        events=5,
        city="Toledo",
        country_code="US",
    )
    a2 = await add_session(
        db,
        tenant.site_id,
        fingerprint=f"fp-{tag}-a",
        ip=f"192.0.2.{number}",
        start=now - timedelta(hours=2),
        events=2,
    )
    b1 = await add_session(
        db,
        tenant.site_id,
        fingerprint=f"fp-{tag}-b",
        ip=f"198.51.100.{number}",
        browser="Safari",
        device_type="mobile",
        lead_score=70,
    )
    await resolve_all(db)
    auth = tenant.auth()
    email = f"{tag}@example.com"
    lead = await client.post(
        "/api/leads",
        headers=auth,
        json={
            "site_id": tenant.public_id,
            "session_id": str(a2),
            "email": email,
            "name": "Ex",
            "value": 10,
        },
    )
    call = await client.post(
        "/api/call-event",
        headers=auth,
        json={
            "site_id": tenant.public_id,
            "phone_number": f"+141955501{number}",
            "fingerprint": f"fp-{tag}-b",
            "caller_number": f"+141955502{number}",
        },
    )
    assert lead.status_code == 201 and call.status_code == 201, (lead.text, call.text)
    a, b = await person_of(db, tenant.site_id, a1), await person_of(db, tenant.site_id, b1)
    assert a and b and a != b
    before = await snapshot(db, tenant.site_id, [a, b])

    tie = await client.post(
        "/api/identify",
        headers=auth,
        json={"site_id": tenant.public_id, "email": email, "phone": f"+1 419 555 02{number}"},
    )
    assert tie.status_code == 200, tie.text
    [merge_id] = tie.json()["merges"]
    survivor = uuid.UUID(tie.json()["canonical_user_id"])
    assert {await person_of(db, tenant.site_id, s) for s in (a1, a2, b1)} == {survivor}
    [merged] = await fetch(
        db,
        "SELECT total_sessions, total_leads, total_calls FROM canonical_users WHERE id = $1",
        survivor,
    )
    assert (merged["total_sessions"], merged["total_leads"], merged["total_calls"]) == (3, 1, 1)
    return MergedPair(a, b, (a1, a2), b1, before, merge_id, survivor)


async def test_merge_then_unmerge_restores_both_people_exactly(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    pair = await merge_two_people(db, tenant, client, "exact", 61)
    history = await client.get(
        "/api/identity/merges",
        params={"site_id": tenant.public_id, "user_id": str(pair.survivor)},
        headers=tenant.auth(tenant.read_key),
    )
    [row] = [m for m in history.json()["merges"] if m["id"] == pair.merge_id]
    # The survivor is the older person (then the smaller id); the other one's sessions moved.
    assert row["sessions_moved"] == (1 if pair.survivor == pair.a else 2)
    assert row["evidence"]["kind"] in ("email", "phone")

    undo = await client.post(
        f"/api/identity/merges/{pair.merge_id}/undo",
        params={"site_id": tenant.public_id},
        headers=tenant.auth(),
    )
    assert undo.status_code == 200, undo.text
    assert await snapshot(db, tenant.site_id, [pair.a, pair.b]) == pair.before


async def test_cli_unmerge_restores_both_people_exactly(
    db: Database,
    tenant: Tenant,
    client: httpx.AsyncClient,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
) -> None:
    """``leadtrail identity unmerge`` on a real merge: what the API undo test checks, by CLI."""
    pair = await merge_two_people(db, tenant, client, "cli-unmerge", 81)
    a, b, survivor, merge_id = pair.a, pair.b, pair.survivor, pair.merge_id
    restored = b if survivor == a else a

    async def cli(*args: str) -> tuple[int | None, str, str]:
        return await leadtrail_cli(test_database, cli_env, *args)

    code, out, err = await cli("identity", "unmerge", "--site", tenant.public_id, merge_id)
    assert code == 0, err
    moved = 1 if restored == b else 2
    assert out.strip() == (
        f"unmerged {restored} from {survivor}: {moved} sessions, "
        f"{1 if restored == a else 0} leads, {1 if restored == b else 0} calls restored"
    )
    assert await snapshot(db, tenant.site_id, [a, b]) == pair.before
    code, out, _ = await cli("identity", "merges", "--site", tenant.public_id, "--user", str(a))
    assert code == 0 and merge_id in out and "undone" in out.split(merge_id)[1].splitlines()[0]
    code, _, err = await cli("identity", "unmerge", "--site", tenant.public_id, merge_id)
    assert code == 1 and err.strip() == "error: this merge was already undone"


async def test_unmerge_is_scoped_to_the_site(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    other = await make_tenant(db, "ident-other")
    merges = await fetch(
        db, "SELECT id FROM identity_merges WHERE site_id = $1 LIMIT 1", tenant.site_id
    )
    assert merges
    merge_id = merges[0]["id"]
    foreign = await client.post(f"/api/identity/merges/{merge_id}/undo", headers=other.auth())
    assert foreign.status_code == 404 and foreign.json()["error"] == "merge_not_found"
    reader = await client.post(
        f"/api/identity/merges/{merge_id}/undo",
        params={"site_id": tenant.public_id},
        headers=tenant.auth(tenant.read_key),
    )
    assert reader.status_code == 403
    bad = await client.post(
        "/api/identity/merges/xyz/undo", params={"site_id": tenant.public_id}, headers=tenant.auth()
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_uuid"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/identify", {"email": "x@example.com"}),
        ("/api/leads", {"email": "x@example.com"}),
        ("/api/call-event", {"phone_number": "+14195550100"}),
        ("/api/ad-spend", {"rows": [{"campaign_id": "1", "date": "2026-01-01", "cost": "1"}]}),
    ],
)
async def test_writes_refuse_other_sites_and_read_keys(
    db: Database, tenant: Tenant, client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    other = await make_tenant(db, f"ident-w{abs(hash(path)) % 1000}")
    foreign = await client.post(
        path, json={"site_id": other.public_id, **body}, headers=tenant.auth()
    )
    assert foreign.status_code == 404 and foreign.json()["error"] == "site_not_found"
    unknown = await client.post(
        path, json={"site_id": str(uuid.uuid4()), **body}, headers=tenant.auth()
    )
    assert unknown.status_code == 404
    reader = await client.post(
        path, json={"site_id": tenant.public_id, **body}, headers=tenant.auth(tenant.read_key)
    )
    assert reader.status_code == 403 and reader.json()["error"] == "insufficient_role"
    if path != "/api/ad-spend":
        bad_uuid = await client.post(
            path,
            json={"site_id": tenant.public_id, "session_id": "nope", **body},
            headers=tenant.auth(),
        )
        assert bad_uuid.status_code == 400


async def test_lead_status_quick_action(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    made = await client.post(
        "/api/leads",
        headers=tenant.auth(),
        json={"site_id": tenant.public_id, "email": "status@example.com"},
    )
    lead_id = made.json()["lead_id"]
    person = uuid.UUID(made.json()["canonical_user_id"])
    junk = await client.patch(
        f"/api/leads/{lead_id}", json={"status": "junk"}, headers=tenant.auth()
    )
    assert junk.status_code == 200 and junk.json()["status"] == "junk"
    [row] = await fetch(
        db, "SELECT converted_to_lead, total_leads FROM canonical_users WHERE id = $1", person
    )
    assert not row["converted_to_lead"] and row["total_leads"] == 0
    other = await make_tenant(db, "ident-lead-other")
    foreign = await client.patch(
        f"/api/leads/{lead_id}", json={"status": "qualified"}, headers=other.auth()
    )
    assert foreign.status_code == 404 and foreign.json()["error"] == "lead_not_found"
