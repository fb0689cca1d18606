"""The Microsoft Advertising offline conversion file (pure), in the documented Bulk CSV
shape (the "Offline Conversion" record of the Bulk service, format version 6.0), which the
Microsoft Advertising web UI imports as well::

    Type,Status,Id,Parent Id,Client Id,Name,Conversion Currency Code,Conversion Name,Conversion Time,Conversion Value,Microsoft Click Id
    Format Version,,,,,6.0,,,,,
    Offline Conversion,,,,<client id>,,USD,Qualified call,2/6/2026 7:03:12 PM,400,<msclkid>

Conversion times are UTC in ``M/D/YYYY h:mm:ss AM/PM``, as the documentation's example.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from leadtrail.adspend.google_ads import OfflineConversion

HEADER = (
    "Type",
    "Status",
    "Id",
    "Parent Id",
    "Client Id",
    "Name",
    "Conversion Currency Code",
    "Conversion Name",
    "Conversion Time",
    "Conversion Value",
    "Microsoft Click Id",
)
FORMAT_VERSION = ("Format Version", "", "", "", "", "6.0", "", "", "", "", "")
_MSCLKID = re.compile(r"^[A-Za-z0-9_-]{8,200}$")


def bulk_time(at: datetime) -> str:
    utc = at.astimezone(UTC)
    hour = utc.hour % 12 or 12
    return (
        f"{utc.month}/{utc.day}/{utc.year} {hour}:{utc.minute:02d}:{utc.second:02d} "
        f"{'AM' if utc.hour < 12 else 'PM'}"
    )


def render(rows: Iterable[OfflineConversion], name: str, default_currency: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow(FORMAT_VERSION)
    for row in rows:
        if not _MSCLKID.match(row.gclid):
            continue  # click ids come from landing URLs: anything odd is skipped
        value = "" if row.value is None else format(row.value.normalize(), "f")
        currency = (row.currency or default_currency) if row.value is not None else ""
        writer.writerow(
            (
                "Offline Conversion",
                "",
                "",
                "",
                "",
                "",
                currency,
                name,
                bulk_time(row.at),
                value,
                row.gclid,
            )
        )
    return out.getvalue()
