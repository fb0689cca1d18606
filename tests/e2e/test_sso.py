"""Single sign-on with OpenID Connect against a real provider on loopback (oidc-provider-mock,
an authlib-based OpenID Provider), driven in Chromium: discovery, authorization code with PKCE,
ID-token signature and nonce checked, accounts matched by verified e-mail only."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.conftest import LiveServer, make_settings

with warnings.catch_warnings():
    # the provider (test-only) imports authlib modules authlib itself marks deprecated
    warnings.simplefilter("ignore")
    import oidc_provider_mock


# The provider runs in this process: its own use of authlib APIs authlib has deprecated must
# not turn into errors there (warnings are errors in this suite). Only those are ignored.
pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config:DeprecationWarning",
    "ignore:authlib.jose module is deprecated",
    "ignore:The httpx module is deprecated",
)


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Settings:
    return make_settings(
        tmp_path_factory,
        oidc_issuer=provider,
        oidc_client_id="leadtrail-dashboard",
        oidc_client_secret="provider-secret",
    )


def provider_user(provider: str, email: str, **claims: Any) -> None:
    r = httpx.put(f"{provider}/users/{email}", json={"email": email, **claims})
    assert r.status_code == 204


async def sign_in_at_provider(page: Page, server: LiveServer, subject: str) -> None:
    await page.goto(f"{server.url}/dashboard/")
    await page.get_by_role("link", name="Sign in with SSO").click()
    await page.locator("input[name=sub]").fill(subject)
    await page.get_by_role("button", name="Authorize").click()


async def test_a_verified_email_with_an_account_signs_in(
    page: Page, server: LiveServer, db: Database, provider: str
) -> None:
    async with db.system() as conn:
        await create_user(conn, "ada@example.com", "correct horse battery")
    provider_user(provider, "ada@example.com", email_verified=True, name="Ada")
    await sign_in_at_provider(page, server, "ada@example.com")
    await expect(page.locator("#user-email")).to_have_text("ada@example.com")
    await expect(page.get_by_role("heading", name="No site yet")).to_be_visible()


@pytest.mark.parametrize(
    ("email", "claims", "why"),
    [
        ("eve@example.com", {"email_verified": False}, "has not verified"),
        ("nobody@example.com", {"email_verified": True}, "no leadtrail account"),
    ],
)
async def test_unverified_or_unknown_emails_are_refused(
    page: Page,
    server: LiveServer,
    db: Database,
    provider: str,
    email: str,
    claims: dict[str, Any],
    why: str,
) -> None:
    async with db.system() as conn:
        if email.startswith("eve"):
            await create_user(conn, email, "correct horse battery")
    provider_user(provider, email, **claims)
    await sign_in_at_provider(page, server, email)
    await expect(page.get_by_role("heading", name="Log in to leadtrail")).to_be_visible()
    await expect(page.locator(".form-error")).to_contain_text(why)


async def test_a_forged_callback_is_refused(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.get("/api/auth/oidc/callback", params={"code": "x", "state": "y"})
        assert r.status_code == 303 and "sso_error" in r.headers["location"]
        assert "leadtrail_session" not in r.cookies
