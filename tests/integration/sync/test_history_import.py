"""``leadtrail import events``: history from another tool becomes sessions, events,
people and rollups as live traffic would; a re-import adds nothing."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import orjson

from tests.conftest import ModuleDatabase, leadtrail_cli
from tests.integration.sync.test_stream_replay import new_site

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
CSV = f"""timestamp,session_id,url,event,visitor_id,user_agent,referrer,city,country_code
2026-11-02T10:00:00Z,a1,/?utm_source=google&utm_campaign=fall,view,v1,"{CHROME}",https://www.google.com/,Toledo,us
2026-11-02T10:01:00Z,a1,/pricing,view,v1,"{CHROME}",,Toledo,us
2026-11-02T10:02:00Z,a1,/contact,form_submit,v1,"{CHROME}",,Toledo,us
2026-11-05T09:00:00Z,b2,/,view,v1,"{CHROME}",,Toledo,us
2026-11-05T09:00:00Z,c3,/,view,v2,Googlebot/2.1 (+http://www.google.com/bot.html),,,
"""


async def test_events_import_derives_sessions_people_and_rollups(
    owner: asyncpg.Connection,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    site = await new_site(owner, "history_site")
    file = tmp_path / "history.csv"
    file.write_text(CSV)
    code, out, err = await leadtrail_cli(
        test_database, cli_env, "import", "events", "--site", "history_site", str(file)
    )
    assert code == 0, err
    assert out.startswith("4 events in 2 sessions imported (1 bot rows skipped)")
    sessions = await owner.fetch(
        "SELECT page_views, event_count, utm_source, utm_campaign, referrer_type, city, "
        "canonical_user_id FROM sessions WHERE site_id = $1 ORDER BY created_at",
        site,
    )
    first, second = sessions
    assert (first["page_views"], first["event_count"]) == (2, 3)
    assert (first["utm_source"], first["utm_campaign"], first["city"]) == (
        "google",
        "fall",
        "Toledo",
    )
    # one visitor id over two days: one person
    assert first["canonical_user_id"] is not None
    assert first["canonical_user_id"] == second["canonical_user_id"]
    assert (
        await owner.fetchval("SELECT sum(sessions) FROM rollup_hourly WHERE site_id = $1", site)
        == 2
    )

    code, out, _ = await leadtrail_cli(
        test_database, cli_env, "import", "events", "--site", "history_site", str(file)
    )
    assert code == 0
    assert await owner.fetchval("SELECT count(*) FROM events WHERE site_id = $1", site) == 4
    assert (
        await owner.fetchval("SELECT sum(event_count) FROM sessions WHERE site_id = $1", site) == 4
    )

    lines = tmp_path / "bad.jsonl"
    lines.write_bytes(orjson.dumps({"timestamp": "2026-11-02T10:00:00Z", "url": "/"}) + b"\n")
    code, _, err = await leadtrail_cli(
        test_database, cli_env, "import", "events", "--site", "history_site", str(lines)
    )
    assert code == 1 and err == "error: line 1: session_id is required\n"
