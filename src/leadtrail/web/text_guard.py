"""PostgreSQL's text and jsonb cannot hold NUL (U+0000), nor can UTF-8 carry a lone UTF-16
surrogate (``"\ud800"`` is valid JSON), so the API refuses both up front with 400
``invalid_text`` wherever a request brings text: query values, path segments, and every
string and key of a JSON body (nested ``metadata`` included). ``/api/sync`` refuses them
in its own validator; nothing is silently altered.

Routers opt in with ``dependencies=[NO_NUL]``: one check for FastAPI-parsed bodies and the
bodies routes read themselves (``read_object``), since the request caches its body."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from fastapi import Depends, Request

from leadtrail.errors import BadRequest

NUL = "\x00"
#: a decoded JSON string can only get a NUL from this escape (raw control characters are
#: invalid JSON), so a body without it needs no parsing here
_ESCAPED_NUL = b"\\u0000"
#: likewise a surrogate (paired or not) only arrives as an escape ``\ud800``-``\udfff``
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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


def surrogate_path(value: Any) -> str | None:
    """Where the first lone surrogate in a decoded JSON value is, or None (a decoder joins
    proper pairs into one character, so any surrogate left is unpaired)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                return where
        elif isinstance(node, dict):
            for key, child in node.items():
                path = f"{where}.{key}" if where else str(key)
                if _LONE_SURROGATE.search(str(key)):
                    return where or "(a key)"
                stack.append((child, path))
        elif isinstance(node, list):
            stack.extend((node[i], f"{where}[{i}]") for i in reversed(range(len(node))))
    return None


def _refuse_surrogate(where: str) -> BadRequest:
    return BadRequest(
        f"{where or 'the body'} contains an unpaired UTF-16 surrogate, which is not text",
        code="invalid_text",
        field=where or None,
    )


async def reject_nul(request: Request) -> None:
    """FastAPI dependency: 400 ``invalid_text`` for a NUL or a lone surrogate anywhere in
    the request's text."""
    for key, value in request.query_params.multi_items():
        if NUL in key or NUL in value:
            raise _refuse(_shown(key))
    for key, value in request.path_params.items():
        if isinstance(value, str) and NUL in value:
            raise _refuse(key)
    body = await request.body()
    if _ESCAPED_SURROGATE.search(body):
        try:
            # orjson refuses lone surrogates; the route's own parser (json) keeps them
            decoded = json.loads(body)
        except ValueError:
            return  # the route answers malformed JSON with its own error
        where = surrogate_path(decoded)
        if where is not None:
            raise _refuse_surrogate(where)
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
