"""Login throttling: per client IP and per account, with stepped backoff.

Every attempt counts against the caller's IP; failed attempts count against the account
(the normalised e-mail, known or not, so the answer tells nothing about which exist). Each
limit is several windows (``5/minute;20/hour;100/day``): a guesser who waits out the
minute soon meets the hour, then the day. An account or IP over its limit gets 429 with
Retry-After before any password is hashed.
"""

from __future__ import annotations

from leadtrail.ratelimit import RateLimiter, parse_limits


class LoginThrottle:
    def __init__(self, limiter: RateLimiter, ip_limit: str, account_limit: str) -> None:
        self._limiter = limiter
        self._ip = parse_limits(ip_limit, "LEADTRAIL_LOGIN_IP_RATE_LIMIT")
        self._account = parse_limits(account_limit, "LEADTRAIL_LOGIN_ACCOUNT_RATE_LIMIT")

    async def admit(self, ip: str | None, account: str) -> None:
        """Count the attempt for the IP; raise ``RateLimited`` if the IP or the account is
        over its limit."""
        await self._limiter.check(self._account, "login-account", account)
        await self._limiter.check(self._ip, "login-ip", ip or "unknown")
        await self._limiter.count(self._ip, "login-ip", ip or "unknown")

    async def failed(self, account: str) -> None:
        await self._limiter.count(self._account, "login-account", account)
