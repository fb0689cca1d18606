"""The visitor's IP address: the peer, or the forwarded address when the peer is a trusted
proxy; and how much of it to keep. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"127.0.0.1/32, 10.0.0.0/8"`` → networks; raises ValueError on a bad entry."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def is_trusted(peer: str | None, trusted: Sequence[Network]) -> bool:
    addr = _address(peer) if peer else None
    return addr is not None and any(addr in net for net in trusted)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """Walk ``X-Forwarded-For`` from the right past trusted proxies; the first other hop is
    the client. Without a trusted peer the header is ignored (anyone can send it)."""
    peer_addr = _address(peer) if peer else None
    if peer_addr is None:
        return None
    if not forwarded_for or not any(peer_addr in net for net in trusted):
        return str(peer_addr)
    for hop in reversed(forwarded_for.split(",")):
        addr = _address(hop)
        if addr is None:
            return None
        if not any(addr in net for net in trusted):
            return str(addr)
    return str(peer_addr)


def stored_ip(ip: str | None, mode: str) -> str | None:
    """Apply a site's ``ip_storage``: ``full``, ``truncated`` (/24 IPv4, /48 IPv6) or ``none``."""
    if ip is None or mode == "none":
        return None
    if mode == "truncated":
        addr = _address(ip)
        if addr is None:
            return None
        prefix = 24 if addr.version == 4 else 48
        return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)
    return ip
