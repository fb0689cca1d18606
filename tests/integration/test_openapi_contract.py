"""The OpenAPI document matches the API's error answers: 400 (not 422) with the Error body,
404s documented, and every operation, called anonymously and with an admin key, answers
only statuses its operation documents, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx

from leadtrail.web.access_table import REQUIRED
from tests.conftest import LiveServer
from tests.integration.test_scopes import _body, _url, keys

__all__ = ["keys"]  # the fixture, shared with the scope test


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


async def test_documented_errors_match_the_answers(
    server: LiveServer, keys: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        schema = (await http.get("/openapi.json")).json()
        refs = {n["$ref"] for n in _walk(schema) if "$ref" in n}
        assert "#/components/schemas/HTTPValidationError" not in refs
        site = keys["site"].public_id
        wrong: list[str] = []
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                documented = set(operation["responses"])
                assert "422" not in documented, (method, path)
                if "{" in path and method != "options":
                    assert "404" in documented, (method, path)
                name = f"{method.upper()} {path}"
                assert name in REQUIRED
                for who in ({}, {"Authorization": f"Bearer {keys['admin']}"}):
                    response = await http.request(
                        method.upper(),
                        _url(path, site),
                        params={"site_id": site},
                        json=_body(method.upper(), path, site),
                        headers=who,
                    )
                    status = str(response.status_code)
                    if response.status_code >= 500 or status not in documented:
                        wrong.append(f"{name} ({'key' if who else 'anonymous'}): {status}")
                    elif response.status_code >= 400:
                        body = response.json()
                        if not (isinstance(body.get("error"), str) and "detail" in body):
                            wrong.append(f"{name}: error body {body}")
        assert not wrong, "\n".join(wrong)
