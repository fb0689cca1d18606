"""core.js loads the site's extension script from leadtrail after the first page view, and an
enabled module reaches the server through the tracker's own delivery (``leadtrail._t``)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser

from leadtrail.ingest.sites import SiteConfig
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from leadtrail.web import site_script
from leadtrail.web.site_script import TrackerExtension
from tests.e2e.sites import FixtureSite
from tests.e2e.test_tracker_live import CHROME

PROBE = """
(function (cfg) {
  window.__probe = cfg.label;
  leadtrail._t('interaction', 'probe_loaded', cfg.label);
})(leadtrail._cfg.probe);
"""


async def test_an_enabled_module_runs_with_its_config_and_sends_through_the_tracker(
    browser: Browser,
    db: Database,
    fixture_site: FixtureSite,
    owner: asyncpg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "probe.js").write_text(PROBE)
    monkeypatch.setattr(site_script, "MODULES_DIR", tmp_path)

    async def probe(site: SiteConfig, _db: Database) -> TrackerExtension | None:
        enabled = site.settings.get("probe") is True
        return (
            TrackerExtension("probe", {"label": "from-settings"}, "probe.js") if enabled else None
        )

    monkeypatch.setattr(site_script, "PROVIDERS", [probe])
    async with db.system() as conn:
        site = await create_site(
            conn, name="Ext shop", domain=fixture_site.host, public_id="tracker_ext"
        )
        await conn.execute(
            "UPDATE sites SET settings = settings || '{\"probe\": true}' WHERE id = $1", site.id
        )
    fixture_site.site_id, fixture_site.api_url = site.public_id, None
    fixture_site.script_src, fixture_site.attrs = None, {}

    ctx = await browser.new_context(user_agent=CHROME)
    try:
        page = await ctx.new_page()
        await page.goto(fixture_site.page("index.html"))
        await page.wait_for_function("window.__probe === 'from-settings'")
        await page.evaluate("leadtrail.flush()")  # rather than waiting for the 2 s batch timer
        await page.wait_for_function("!localStorage.leadtrail_outbox", timeout=15_000)
    finally:
        await ctx.close()
    labels = await owner.fetch(
        "SELECT event_label FROM events WHERE site_id = $1 AND event_action = 'probe_loaded'",
        site.id,
    )
    assert [r["event_label"] for r in labels] == ["from-settings"]
