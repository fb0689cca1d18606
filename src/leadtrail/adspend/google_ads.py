"""The Google Ads offline conversion import file (pure).

Columns as in Google's template: ``Google Click ID, Conversion Name, Conversion Time,
Conversion Value, Conversion Currency``. Times are written in the site's time zone with
an explicit offset (``2026-02-06 14:03:12-0500``), one of the formats Google accepts, and
the file starts with the ``Parameters:TimeZone=`` line naming that zone.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from leadtrail.analytics.csvout import SafeWriter
from leadtrail.errors import BadRequest

HEADER = (
    "Google Click ID",
    "Conversion Name",
    "Conversion Time",
    "Conversion Value",
    "Conversion Currency",
)
_GCLID = re.compile(r"^[A-Za-z0-9_-]{10,200}$")


@dataclass(frozen=True)
class OfflineConversion:
    gclid: str
    at: datetime
    value: Decimal | None
    currency: str | None


def conversion_name(value: str | None) -> str:
    """The conversion action's name as set up in Google Ads; no formulas, no line breaks."""
    name = (value or "").strip()
    if not 1 <= len(name) <= 100 or name[0] in "=+-@\t\r" or any(c in name for c in "\r\n"):
        raise BadRequest(
            "conversion_name must be 1-100 characters, on one line, not starting with = + - @",
            code="invalid_conversion_name",
            field="conversion_name",
        )
    return name


def render(
    rows: Iterable[OfflineConversion], name: str, timezone: str, default_currency: str
) -> str:
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    out.write(f"Parameters:TimeZone={timezone}\n")
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(HEADER)
    for row in rows:
        # Click ids come from landing URLs: anything odd is skipped, never written.
        if not _GCLID.match(row.gclid):
            continue
        when = row.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S%z")
        value = "" if row.value is None else format(row.value.normalize(), "f")
        currency = (row.currency or default_currency) if row.value is not None else ""
        writer.writerow((row.gclid, name, when, value, currency))
    return out.getvalue()
