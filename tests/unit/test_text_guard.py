"""Finding a NUL character anywhere in a decoded JSON body."""

from __future__ import annotations

from typing import Any

import pytest

from leadtrail.web.text_guard import nul_path


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"name": "Ann", "email": "a@example.com", "n": 1, "ok": None}, None),
        ({"message": "a literal \\u0000 is fine"}, None),
        ({"name": "A\x00nn"}, "name"),
        ({"metadata": {"crm": {"note": ["x", "y\x00"]}}}, "metadata.crm.note[1]"),
        ({"metadata": {"crm": {"k\x00ey": 1}}}, "metadata.crm.k\\u0000ey"),
        ({"rows": [{"campaign_name": "ok"}, {"campaign_name": "\x00"}]}, "rows[1].campaign_name"),
        ({"a": "\x00", "b": "\x00"}, "a"),  # the first in document order
        ("\x00", ""),
        ([1, 2.5, True], None),
    ],
)
def test_nul_path(value: Any, where: str | None) -> None:
    assert nul_path(value) == where
