"""Guarding the disk: the slot of a realtime node gone too long is dropped by another."""

from __future__ import annotations

import logging

import pytest

from leadtrail.realtime.feed import drop_stale_slots
from leadtrail.storage import Database


async def test_stale_node_slot_is_dropped_and_logged(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.system() as conn:
        database = await conn.fetchval("SELECT current_database()")
        ghost = f"leadtrail_rt_{database}_ghost"[:63]
        fresh = f"leadtrail_rt_{database}_fresh"[:63]
        for name, age in ((ghost, "2 days"), (fresh, "1 minute")):
            await conn.execute("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", name)
            await conn.execute(
                "INSERT INTO leadtrail.realtime_nodes (slot_name, seen_at) "
                "VALUES ($1, now() - $2::text::interval)",
                name,
                age,
            )
        try:
            with caplog.at_level(logging.WARNING, logger="leadtrail.realtime.feed"):
                dropped = await drop_stale_slots(conn, "me", max_idle=86400)
            assert dropped == [ghost]
            assert ghost in caplog.text
            slots = {
                r["slot_name"]
                for r in await conn.fetch("SELECT slot_name FROM pg_replication_slots")
            }
            assert ghost not in slots and fresh in slots
            nodes = await conn.fetch("SELECT slot_name FROM leadtrail.realtime_nodes")
            assert [r["slot_name"] for r in nodes] == [fresh]
        finally:
            await conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = ANY($1::text[])",
                [ghost, fresh],
            )
