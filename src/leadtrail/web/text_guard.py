"""PostgreSQL's text and jsonb cannot hold NUL (U+0000), so the API refuses it up front with
400 ``invalid_text`` wherever a request brings text: query values, path segments, and every
string and key of a JSON body (nested ``metadata`` included). ``/api/sync`` refuses NUL the
same way in its own validator; nothing is silently altered.

Routers opt in with ``dependencies=[NO_NUL]``: one check for FastAPI-parsed bodies and the
bodies routes read themselves (``read_object``), since the request caches its body."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request

from leadtrail.errors import BadRequest

NUL = "\x00"
#: a decoded JSON string can only get a NUL from this escape (raw control characters are
#: invalid JSON), so a body without it needs no parsing here
_ESCAPED_NUL = b"\\u0000"


def _shown(name: str) -> str:
    return name.replace(NUL, "\\u0000")


def nul_path(value: Any) -> str | None:
    """Where the first NUL in a decoded JSON value is (``rows[2].campaign_name``,
    ``metadata.a.b``; ``""`` for a bare string), or None. Keys count as well as values."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                return where
        elif isinstance(node, dict):
            children = []
            for key, child in node.items():
                path = f"{where}.{_shown(str(key))}" if where else _shown(str(key))
                if NUL in str(key):
                    return path
                children.append((child, path))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend((node[i], f"{where}[{i}]") for i in reversed(range(len(node))))
    return None


def _refuse(field: str) -> BadRequest:
    return BadRequest(
        f"{field or 'the body'} contains a NUL character (\\u0000), which cannot be stored",
        code="invalid_text",
        field=field or None,
    )


async def reject_nul(request: Request) -> None:
    """FastAPI dependency: 400 ``invalid_text`` for a NUL anywhere in the request's text."""
    for key, value in request.query_params.multi_items():
        if NUL in key or NUL in value:
            raise _refuse(_shown(key))
    for key, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise _refuse(key)
    body = await request.body()
    if _ESCAPED_NUL not in body:
        return
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # the route answers malformed JSON with its own error
    where = nul_path(data)
    if where is not None:
        raise _refuse(where)


NO_NUL = Depends(reject_nul)
