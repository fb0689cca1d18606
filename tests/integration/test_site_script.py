"""The per-site extension script: configuration and modules of the features a site enabled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadtrail.ingest.sites import SiteConfig
from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Database
from leadtrail.web import site_script
from leadtrail.web.site_script import TrackerExtension


@pytest.fixture(scope="module")
async def shop(db: Database) -> Site:
    async with db.system() as conn:
        return await create_site(conn, name="Shop", domain="shop.example", public_id="ext_shop")


@pytest.fixture
def probe_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A provider that enables a ``probe`` module for sites whose settings ask for it."""
    (tmp_path / "probe.js").write_text("/* a comment the minifier drops */\nwindow.probe = 1;\n")
    monkeypatch.setattr(site_script, "MODULES_DIR", tmp_path)

    async def probe(site: SiteConfig, db: Database) -> TrackerExtension | None:
        return TrackerExtension("probe", {"label": "</script>x"}, "probe.js")

    monkeypatch.setattr(site_script, "PROVIDERS", [probe, probe])
    yield tmp_path


async def test_unknown_and_malformed_sites_get_an_empty_script(client: httpx.AsyncClient) -> None:
    for public_id in ("no_such_site", "bad%20id"):
        response = await client.get(f"/assets/site/{public_id}.js")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/javascript")
        assert "_cfg" not in response.text


async def test_a_site_with_nothing_enabled_gets_no_configuration(
    client: httpx.AsyncClient, shop: Site
) -> None:
    response = await client.get(f"/assets/site/{shop.public_id}.js")
    assert response.status_code == 200
    assert "_cfg" not in response.text
    assert response.headers["access-control-allow-origin"] == "*"


async def test_enabled_extensions_bring_their_config_and_each_module_once(
    client: httpx.AsyncClient, shop: Site, probe_extension: Path
) -> None:
    response = await client.get(f"/assets/site/{shop.public_id}.js")
    assert response.status_code == 200
    body = response.text
    assert body.startswith(
        '(window.leadtrail=window.leadtrail||{})._cfg={"probe":{"label":"<\\/script>x"}};'
    )
    assert body.count("window.probe=1") == 1  # minified, and once although two enable it
    assert "comment" not in body

    again = await client.get(
        f"/assets/site/{shop.public_id}.js", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304


def test_module_names_cannot_leave_the_modules_folder() -> None:
    with pytest.raises(ValueError):
        site_script.module_source("../core.js")
