"""Bounds on the free-form ``metadata`` object of a call event. Pure.

It is stored as jsonb with the call and shown in the dashboard, so a client may not make it
arbitrarily large: a cap on its encoded size, on how deep it nests and on how many keys it
holds in all (a 6 MB object with 200,000 keys was once stored whole).
"""

from __future__ import annotations

from typing import Any

import orjson

from leadtrail.errors import BadRequest

MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 5
MAX_METADATA_KEYS = 200


def _invalid(detail: str, field: str) -> BadRequest:
    return BadRequest(f"{field} {detail}", code="invalid_metadata", field=field)


def check_metadata(value: dict[str, Any], field: str = "metadata") -> dict[str, Any]:
    """``value`` unchanged when it is within bounds; else 400 ``invalid_metadata`` or
    ``metadata_too_large``."""
    keys = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list) and depth > MAX_METADATA_DEPTH:
            raise _invalid(f"nests deeper than {MAX_METADATA_DEPTH} levels", field)
        if isinstance(node, dict):
            keys += len(node)
            if keys > MAX_METADATA_KEYS:
                raise _invalid(f"holds more than {MAX_METADATA_KEYS} keys", field)
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        # a lone surrogate (not UTF-8), or an integer past 64 bits
        raise _invalid("holds text or a number that cannot be stored", field) from None
    if size > MAX_METADATA_BYTES:
        raise BadRequest(
            f"{field} is {size} bytes; the limit is {MAX_METADATA_BYTES}",
            code="metadata_too_large",
            field=field,
        )
    return value
