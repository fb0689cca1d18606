"""Login over real HTTP: per-account and per-IP limits answer 429 with Retry-After before
any password is checked, password hashing runs off the event loop, and the password policy
is the same for the CLI as for login."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from leadtrail.auth import service as auth_service
from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.conftest import ModuleDatabase, leadtrail_cli, make_settings
from tests.integration.people_support import Tenant, make_tenant


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        login_ip_rate_limit="6/minute",
        login_account_rate_limit="3/minute;10/hour",
    )


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "login")


def from_ip(ip: str) -> dict[str, str]:
    # loopback is a trusted proxy by default, so the forwarded address is the client's
    return {"X-Forwarded-For": ip}


async def login(client: httpx.AsyncClient, email: str, password: str, ip: str) -> httpx.Response:
    return await client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=from_ip(ip)
    )


async def test_failed_logins_lock_the_account_with_retry_after(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    answers = [
        (await login(client, tenant.user_email, "wrong password!", f"198.51.100.{i}")).status_code
        for i in range(3)
    ]
    assert answers == [401, 401, 401]
    # From yet another address, even the right password waits now.
    locked = await login(client, tenant.user_email, tenant.password, "198.51.100.99")
    assert locked.status_code == 429, locked.text
    assert locked.json()["error"] == "rate_limited"
    assert 1 <= int(locked.headers["retry-after"]) <= 60


async def test_one_ip_guessing_many_accounts_is_limited(client: httpx.AsyncClient) -> None:
    statuses = [
        (await login(client, f"nobody{i}@example.com", "wrong password!", "203.0.113.50"))
        for i in range(8)
    ]
    assert [r.status_code for r in statuses[:6]] == [401] * 6
    assert statuses[6].status_code == 429 and "retry-after" in statuses[6].headers
    # Another address is not affected.
    assert (
        await login(client, "x@example.com", "wrong password!", "203.0.113.51")
    ).status_code == 401


async def test_password_hashing_runs_off_the_event_loop(
    db: Database, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = await make_tenant(db, "hashing")
    threads: list[int] = []

    def spy(original: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any) -> Any:
            threads.append(threading.get_ident())
            return original(*args)

        return record

    monkeypatch.setattr(auth_service, "verify_password", spy(auth_service.verify_password))
    monkeypatch.setattr(
        auth_service, "burn_verification_time", spy(auth_service.burn_verification_time)
    )
    await login(client, "unknown@example.com", "wrong password!", "192.0.2.1")
    await login(client, other.user_email.upper(), "wrong password!", "192.0.2.2")
    assert len(threads) == 2
    # The server runs in this test's event loop, on this thread.
    assert threading.get_ident() not in threads


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 8, "only spaces"),
        ("password1", "easy to guess"),
        ("qwertyuiop", "easy to guess"),
        ("x" * 1025, "at most 1024"),
    ],
)
async def test_cli_refuses_passwords_the_policy_refuses(
    test_database: ModuleDatabase, cli_env: dict[str, str], password: str, why: str
) -> None:
    code, out, err = await leadtrail_cli(
        test_database, cli_env, "users", "create", "weak@example.com", "--password", password
    )
    assert code != 0 and why in err and "Traceback" not in err, (out, err)
    assert len(err.strip().splitlines()) == 1


async def test_login_takes_every_password_the_policy_allows(
    test_database: ModuleDatabase, cli_env: dict[str, str], client: httpx.AsyncClient
) -> None:
    longest = "long passphrase " * 64  # 1024 characters
    code, _out, err = await leadtrail_cli(
        test_database, cli_env, "users", "create", "longest@example.com", "--password", longest
    )
    assert code == 0, err
    answer = await login(client, "longest@example.com", longest, "192.0.2.9")
    assert answer.status_code == 200, answer.text
