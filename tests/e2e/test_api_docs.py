"""/docs and /redoc render in a browser with no internet: every asset comes from leadtrail."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.conftest import LiveServer


async def test_swagger_ui_and_redoc_load_only_local_assets(page: Page, server: LiveServer) -> None:
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await page.goto(f"{server.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("leadtrail")
    await expect(page.locator(".opblock-summary-path", has_text="/api/sync").first).to_be_visible()

    await page.goto(f"{server.url}/redoc")
    await expect(page.locator("h1", has_text="leadtrail")).to_be_visible()
    await expect(page.get_by_text("/api/sync").first).to_be_attached()

    local = (server.url, f"blob:{server.url}", "data:")
    foreign = [u for u in requested if not u.startswith(local)]
    # ReDoc's "API docs by Redocly" footer logo: an <img> that hides itself when it fails
    assert foreign in ([], ["https://cdn.redoc.ly/redoc/logo-mini.svg"])
