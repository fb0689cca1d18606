"""The dimensions reports break sessions down by. Pure: no I/O.

Each name is a ``dim`` value in the rollup tables (the rollup query in ``queries.sql``
produces exactly these). Geography is hierarchical: a region value is
``country<SEP>region``, a city value ``country<SEP>region<SEP>city``.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadtrail.errors import BadRequest

SEP = "\x1f"


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    #: names of the parts of a hierarchical value, outermost first
    parts: tuple[str, ...] = ("value",)


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("entry_page", "Entry page"),
        Dimension("exit_page", "Exit page"),
        Dimension("referrer", "Referrer"),
        Dimension("referrer_type", "Referrer type"),
        Dimension("search_query", "Search query"),
        Dimension("utm_source", "UTM source"),
        Dimension("utm_medium", "UTM medium"),
        Dimension("utm_campaign", "UTM campaign"),
        Dimension("click_id", "Click id"),
        Dimension("attribution", "Attribution"),
        Dimension("browser", "Browser"),
        Dimension("os", "Operating system"),
        Dimension("device", "Device"),
        Dimension("country", "Country", ("country",)),
        Dimension("region", "Region", ("country", "region")),
        Dimension("city", "City", ("country", "region", "city")),
        Dimension("visitor_type", "New or returning"),
    )
}


def get_dimension(name: str) -> Dimension:
    try:
        return DIMENSIONS[name]
    except KeyError:
        raise BadRequest(
            f"unknown dimension {name!r}; one of {', '.join(DIMENSIONS)}",
            code="invalid_dimension",
            field="dimension",
        ) from None


def split_value(dimension: Dimension, value: str) -> dict[str, str | None]:
    """A stored value as named parts; '' (not known) becomes None."""
    pieces = value.split(SEP) if len(dimension.parts) > 1 else [value]
    pieces += [""] * (len(dimension.parts) - len(pieces))
    return {part: (piece or None) for part, piece in zip(dimension.parts, pieces, strict=False)}


def drill_prefix(dimension: Dimension, country: str | None, region: str | None) -> str | None:
    """Prefix that keeps a geographic breakdown inside one country (and region)."""
    if country is None and region is None:
        return None
    if len(dimension.parts) < 2:
        raise BadRequest(
            "country and region filters apply to the region and city breakdowns",
            code="invalid_filter",
            field="country",
        )
    if country is None:
        raise BadRequest("region needs country", code="invalid_filter", field="region")
    code = country.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise BadRequest("country is a two-letter ISO code", code="invalid_filter", field="country")
    if region is None:
        return code + SEP
    if len(dimension.parts) < 3:
        raise BadRequest(
            "region filters apply to the city breakdown", code="invalid_filter", field="region"
        )
    return code + SEP + region + SEP
