"""Realtime: PostgreSQL change feed (logical decoding, pgoutput) and a Supabase-Realtime-
compatible WebSocket hub. See docs/realtime.md."""
