"""First-touch attribution labels of the seeds (seed 003 §4.1). Pure."""

from __future__ import annotations

PAID = "First Click (Paid)"
ADS_ASSISTED = "Return Visitor (Ads Assisted)"
ORGANIC = "Organic"

CLICK_ID_KEYS = ("gclid", "wbraid", "gbraid", "fbclid", "msclkid", "ttclid", "li_fat_id")


def attribution_label(*, has_click_id: bool, returning_ad_user: bool) -> str:
    """``First Click (Paid)`` when this visit carries an ad click id; ``Return Visitor (Ads
    Assisted)`` when not, but this fingerprint had one in an earlier session; else ``Organic``."""
    if has_click_id:
        return PAID
    if returning_ad_user:
        return ADS_ASSISTED
    return ORGANIC
