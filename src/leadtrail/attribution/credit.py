"""The one touch a conversion's stored credit goes to (pure): the touch the site's model
gives the largest share (the latest one on a tie), among the person's sessions within the
click lookback window. Leads and calls copy its click ids and campaign/source/medium, so the
offline-conversion exports and the campaign reports read them straight from the row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from leadtrail.attribution import channels
from leadtrail.attribution.models import Touch, credits
from leadtrail.ingest.first_touch import ADS_ASSISTED, ORGANIC, PAID

DEFAULT_MODEL = "last_non_direct"
DEFAULT_LOOKBACK_DAYS = 90  # Google Ads' longest click-through conversion window


@dataclass(frozen=True)
class Credit:
    """What a lead or call stores about the touch credited with it."""

    model: str
    session_id: UUID | None = None
    session_month: Any = None
    touched_at: datetime | None = None
    channel: str | None = None
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    click_ids: dict[str, str | None] = field(default_factory=dict)

    @property
    def gclid(self) -> str | None:
        return self.click_ids.get("gclid")

    @property
    def has_click(self) -> bool:
        return any(self.click_ids.values())


def pick(
    model: str, touches: Sequence[Mapping[str, Any]], at: datetime, half_life_days: float
) -> Mapping[str, Any] | None:
    """The credited touch among ``touches`` (oldest first, each a session row)."""
    if not touches:
        return None
    shares = credits(
        model, [Touch(t["created_at"], channels.channel(t)) for t in touches], at, half_life_days
    )
    best = max(range(len(touches)), key=lambda i: (shares[i], i))
    return touches[best]


def credit_of(model: str, touch: Mapping[str, Any] | None) -> Credit:
    if touch is None:
        return Credit(model)
    visit = channels.visit(touch)
    return Credit(
        model=model,
        session_id=touch["id"],
        session_month=touch["created_month"],
        touched_at=touch["created_at"],
        channel=channels.channel(touch),
        source=visit.source,
        medium=visit.medium,
        campaign=touch.get("utm_campaign"),
        click_ids={k: touch.get(k) for k in channels.CLICK_IDS},
    )


def label(own: str | None, own_has_click: bool, credited: Credit, own_session: UUID | None) -> str:
    """The seeds' attribution label, with the person's whole graph behind it: a conversion
    on a visit without a click id whose credited touch had one is ads assisted."""
    if own_has_click:
        return PAID
    if credited.has_click and credited.session_id != own_session:
        return ADS_ASSISTED
    return own or ORGANIC
