"""With PostgreSQL stopped under a running server, ``/api/sync`` and login answer 503
``database_unavailable`` with Retry-After (never a 500), and the error answer itself does
not need the database. A cluster of its own: stopping the shared one would stop every test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from leadtrail.app import create_app
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from leadtrail.storage.embedded import EmbeddedPostgres, remove_cluster
from tests.conftest import free_port, make_settings


@dataclass(frozen=True)
class Doomed:
    url: str
    embedded: EmbeddedPostgres
    public_ids: tuple[str, str]


@pytest.fixture(scope="module")
async def doomed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Doomed]:
    settings = make_settings(tmp_path_factory)
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("doomed"), shared_buffers="128MB")
    await asyncio.to_thread(embedded.start)
    db = await Database.open(
        settings, dsn=embedded.dsn(), app_dsn=embedded.dsn(user="leadtrail_app")
    )
    async with db.system() as conn:
        seen = await create_site(conn, name="Seen", domain="seen.example")
        unseen = await create_site(conn, name="Unseen", domain="unseen.example")
    app = create_app(settings, database=db)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Doomed(f"http://127.0.0.1:{port}", embedded, (seen.public_id, unseen.public_id))
    finally:
        server.should_exit = True
        await task
        await db.close()
        await asyncio.to_thread(embedded.stop, force=True)
        remove_cluster(embedded.data_dir)


def event(public_id: str) -> dict[str, str]:
    return {
        "s": public_id,
        "u": "https://seen.example/",
        "sid": "6f1c2b9e-8d7a-4c3b-9a1e-2f3d4c5b6a7e",
        "ec": "acquisition",
        "ea": "page_view",
    }


async def test_sync_and_login_answer_503_with_retry_after_when_postgres_is_down(
    doomed: Doomed,
) -> None:
    seen, unseen = doomed.public_ids
    browser = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    }
    async with httpx.AsyncClient(base_url=doomed.url, timeout=60, headers=browser) as client:
        before = await client.post(
            "/api/sync", json=event(seen), headers={"Origin": "https://seen.example"}
        )
        assert before.status_code == 200, before.text  # the site is now cached

        await asyncio.to_thread(doomed.embedded.stop, force=True)
        assert not doomed.embedded.is_running()

        answers = {
            "sync, cached site": await client.post(
                "/api/sync", json=event(seen), headers={"Origin": "https://seen.example"}
            ),
            "sync, site not cached": await client.post(
                "/api/sync", json=event(unseen), headers={"Origin": "https://unseen.example"}
            ),
            "login": await client.post(
                "/api/auth/login", json={"email": "a@example.com", "password": "whatever it is"}
            ),
        }
    for what, answer in answers.items():
        assert answer.status_code == 503, (what, answer.status_code, answer.text)
        assert int(answer.headers["retry-after"]) >= 1, what
        assert answer.json()["error"] in {"database_unavailable", "write_failed"}, what
    assert answers["sync, site not cached"].json()["error"] == "database_unavailable"
    assert answers["login"].json()["error"] == "database_unavailable"
    # The tracker on a site it knew may read the answer (from the cache, no query).
    cached = answers["sync, cached site"]
    assert cached.headers.get("access-control-allow-origin") == "https://seen.example"
