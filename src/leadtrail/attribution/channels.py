"""Which marketing channel a visit came from (pure): a default channel grouping modelled on
GA4's public definitions, kept as data in ``channel_rules.json`` (rules tried in order, the
first match wins), applied to the visit's source, medium and campaign (from its UTM tags,
else its referrer) and the kind of ad click id it carried."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid", "fbclid", "ttclid", "li_fat_id")
DIRECT = "Direct"
#: what a channel is called when no rule matches
UNASSIGNED = "Unassigned"
#: channels a click id or a paid medium puts a visit in (DNI's default sources)
PAID = frozenset(
    {"Paid Search", "Paid Social", "Paid Shopping", "Paid Video", "Display", "Cross-network"}
)

Matcher = Callable[[str], bool]


@dataclass(frozen=True)
class Rule:
    channel: str
    #: alternatives; each maps a field (source, medium, campaign, click) to its matcher
    any_of: tuple[tuple[tuple[str, Matcher], ...], ...]


@dataclass(frozen=True)
class Visit:
    """The fields the rules read, lower case; ``click`` is the click id's network."""

    source: str
    medium: str
    campaign: str
    click: str


def _labels(host: str) -> set[str]:
    host = host.removeprefix("www.").removeprefix("m.")
    parts = host.split(".")
    return {host, *parts, ".".join(parts[:2])}


def _matcher(spec: str, lists: Mapping[str, frozenset[str]], paid: str) -> Matcher:
    kind, _, arg = spec.partition(":")
    if kind == "in":
        options = frozenset(arg.split("|"))
        return lambda v: v in options
    if kind == "re":
        pattern = re.compile(paid if arg == "$paid" else arg)
        return lambda v: pattern.fullmatch(v) is not None
    if kind == "list":
        sites = lists[arg]
        return lambda v: bool(v) and not _labels(v).isdisjoint(sites)
    if kind == "any":
        return bool
    raise ValueError(f"unknown matcher {spec!r}")


@lru_cache(maxsize=1)
def table() -> dict[str, Any]:
    """The grouping as data (``channel_rules.json``)."""
    text = resources.files(__package__).joinpath("channel_rules.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    data = table()
    lists = {name: frozenset(v) for name, v in data["lists"].items()}
    return tuple(
        Rule(
            r["channel"],
            tuple(
                tuple(
                    (name, _matcher(spec, lists, data["paid_medium"])) for name, spec in alt.items()
                )
                for alt in r["any_of"]
            ),
        )
        for r in data["rules"]
    )


def _text(session: Mapping[str, Any], key: str) -> str:
    value = session.get(key)
    return str(value).strip().lower() if value else ""


def click_kind(session: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(network, source, medium)`` of the visit's first click id, if any."""
    sources = table()["click_sources"]
    for key in CLICK_IDS:
        if session.get(key):
            network, source_name, medium_name = sources[key]
            return str(network), str(source_name), str(medium_name)
    return None


def visit(session: Mapping[str, Any]) -> Visit:
    """Source and medium as GA4 derives them: UTM tags, else the click id's network, else
    the referrer host (medium ``organic`` from a search engine, ``referral`` otherwise)."""
    clicked = click_kind(session)
    referrer = _text(session, "referrer_domain")
    referrer_type = _text(session, "referrer_type")
    if referrer_type in ("internal", "direct"):
        referrer = ""  # a link from the site itself is not where the visit came from
    source = _text(session, "utm_source")
    medium = _text(session, "utm_medium")
    if not source:
        if clicked:
            source = clicked[1]
        elif referrer:
            source = referrer
        elif referrer_type == "email":
            source = "email"
        else:
            source = "(direct)"
    if not medium:
        if clicked:
            medium = clicked[2]
        elif referrer_type == "search":
            medium = "organic"
        elif referrer_type == "social":
            medium = "social"
        elif referrer_type == "email":
            medium = "email"
        elif referrer:
            medium = "referral"
        elif source == "(direct)":
            medium = "(none)"
        else:
            medium = "(not set)"
    return Visit(source, medium, _text(session, "utm_campaign"), clicked[0] if clicked else "")


def classify(v: Visit) -> str:
    fields = {"source": v.source, "medium": v.medium, "campaign": v.campaign, "click": v.click}
    for rule in rules():
        for alternative in rule.any_of:
            if all(match(fields[name]) for name, match in alternative):
                return rule.channel
    return str(table().get("fallback", UNASSIGNED))


def channel(session: Mapping[str, Any]) -> str:
    """The visit's default channel group (``Paid Search``, ``Email``, ``Direct`` …)."""
    return classify(visit(session))


def source(session: Mapping[str, Any]) -> str:
    return visit(session).source


def medium(session: Mapping[str, Any]) -> str:
    return visit(session).medium


def campaign(session: Mapping[str, Any]) -> str:
    return str(session.get("utm_campaign") or "(none)")
