"""CSV for every report and export, neutralised against formula injection. Pure: no I/O.

This is the one place CSV is written (reports, money reports, the Google Ads export), so the
OWASP rules apply to every text cell:

- a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``;
- so does a cell in which a ``,`` or ``;`` (the list separator in many locales) is followed by
  one of those characters (``;=1+1``, ``a,@SUM(…)``), since a spreadsheet may split there;
- every text cell is quoted, with embedded quotes doubled (the ``csv`` module's
  ``QUOTE_NONNUMERIC``), so a separator never splits a cell. Numbers stay bare numbers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_AFTER_SEPARATOR = re.compile(r"[,;][=+\-@\t\r]")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def cell(value: Any) -> Any:
    """``value`` as a spreadsheet can open it without running anything."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(_FORMULA_START) or _AFTER_SEPARATOR.search(text):
        return "'" + text
    return text


class SafeWriter:
    """A ``csv.writer`` that passes every cell through :func:`cell`."""

    def __init__(self, out: _Writable, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator, quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in values])


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c) for c in columns])
    return buffer.getvalue()
