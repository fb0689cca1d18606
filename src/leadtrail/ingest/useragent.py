"""User agent → browser, OS, device type, and whether it is a bot. Pure, cached.

ua-parser (with its Rust accelerator) parses; crawler-user-agents' patterns and a few
headless-browser markers flag bots. Both are costly on an unseen string (~10-100 µs), and real
traffic repeats a few thousand user agents, so results are memoised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import crawleruseragents
import ua_parser

_HEADLESS = re.compile(
    r"HeadlessChrome|PhantomJS|Puppeteer|Playwright|Selenium|Cypress|jsdom|Electron/", re.I
)
_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook|SM-T\d|Nexus (7|9|10)\b", re.I)
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "KaiOS", "BlackBerry OS", "Firefox OS"}
_DESKTOP_OS = {
    "Windows",
    "Mac OS X",
    "macOS",
    "Linux",
    "Ubuntu",
    "Chrome OS",
    "ChromeOS",
    "Fedora",
    "FreeBSD",
}


@dataclass(frozen=True)
class UserAgentInfo:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str  # desktop | mobile | tablet | bot | other
    bot_reason: str | None  # crawler | headless | empty; None for people

    @property
    def is_bot(self) -> bool:
        return self.bot_reason is not None


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ".".join(kept) if kept else None


def _device_type(ua: str, os_family: str | None, device_family: str | None) -> str:
    if _TABLET.search(ua) or (os_family == "Android" and "Mobile" not in ua):
        return "tablet"
    if os_family in _MOBILE_OS or "Mobile" in ua or device_family in ("iPhone", "iPod"):
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "other"


@lru_cache(maxsize=8192)
def parse_user_agent(ua: str) -> UserAgentInfo:
    ua = ua.strip()[:1000]
    if not ua:
        return UserAgentInfo(None, None, None, None, "bot", "empty")
    result = ua_parser.parse(ua)
    agent, system, device = result.user_agent, result.os, result.device
    browser = agent.family if agent and agent.family != "Other" else None
    os_family = system.family if system and system.family != "Other" else None
    bot_reason = None
    if _HEADLESS.search(ua):
        bot_reason = "headless"
    elif crawleruseragents.is_crawler(ua) or (device and device.family == "Spider"):
        bot_reason = "crawler"
    return UserAgentInfo(
        browser=browser,
        browser_version=_version(agent.major, agent.minor) if agent and browser else None,
        os=os_family,
        os_version=_version(system.major, system.minor) if system and os_family else None,
        device_type="bot"
        if bot_reason
        else _device_type(ua, os_family, device.family if device else None),
        bot_reason=bot_reason,
    )
