"""The Microsoft Advertising offline conversion import file (pure).

Microsoft's template: a ``Parameters:TimeZone=`` line is not used; times are UTC. The
header row is ``Microsoft Click ID, Conversion Name, Conversion Time, Conversion Value,
Conversion Currency Code`` and times are written ``M/D/YYYY H:MM:SS`` (24-hour) in UTC, as
the template's example shows.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC

from leadtrail.adspend.google_ads import OfflineConversion

HEADER = (
    "Microsoft Click ID",
    "Conversion Name",
    "Conversion Time",
    "Conversion Value",
    "Conversion Currency Code",
)
_MSCLKID = re.compile(r"^[A-Za-z0-9_-]{8,200}$")


def render(rows: Iterable[OfflineConversion], name: str, default_currency: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        if not _MSCLKID.match(row.gclid):
            continue  # click ids come from landing URLs: anything odd is skipped
        at = row.at.astimezone(UTC)
        when = f"{at.month}/{at.day}/{at.year} {at.hour}:{at.minute:02d}:{at.second:02d}"
        value = "" if row.value is None else format(row.value.normalize(), "f")
        currency = (row.currency or default_currency) if row.value is not None else ""
        writer.writerow((row.gclid, name, when, value, currency))
    return out.getvalue()
