"""Pure parts of ingest: client IP, IP storage, event ids and times, geo lookups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadtrail.errors import ConfigError
from leadtrail.ingest.clientip import client_ip, parse_networks, stored_ip
from leadtrail.ingest.events import event_id, event_time
from leadtrail.ingest.geo import GeoResolver, from_headers

TRUSTED = parse_networks("127.0.0.1/32, 10.0.0.0/8")


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("198.51.100.1", None, "198.51.100.1"),
        ("198.51.100.1", "1.2.3.4", "198.51.100.1"),  # untrusted peer: header ignored
        ("127.0.0.1", "1.2.3.4", "1.2.3.4"),
        ("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1", "1.2.3.4"),  # rightmost untrusted hop
        ("127.0.0.1", "garbage", None),
        ("127.0.0.1", "10.0.0.5", "127.0.0.1"),
        (None, None, None),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, expected: str | None) -> None:
    assert client_ip(peer, xff, TRUSTED) == expected


@pytest.mark.parametrize(
    ("ip", "mode", "stored"),
    [
        ("203.0.113.77", "full", "203.0.113.77"),
        ("203.0.113.77", "truncated", "203.0.113.0"),
        ("2001:db8:abcd:12::1", "truncated", "2001:db8:abcd::"),
        ("203.0.113.77", "none", None),
        (None, "full", None),
    ],
)
def test_stored_ip(ip: str | None, mode: str, stored: str | None) -> None:
    assert stored_ip(ip, mode) == stored


def test_event_ids_are_deterministic_per_session_and_client_id() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert event_id(a, "e1") == event_id(a, "e1")
    assert len({event_id(a, "e1"), event_id(a, "e2"), event_id(b, "e1")}) == 3
    assert event_id(a, "e1").version == 8


def test_event_time_trusts_plausible_client_clocks_only() -> None:
    now = datetime(2026, 11, 21, 12, tzinfo=UTC)
    an_hour_ago = (now - timedelta(hours=1)).timestamp() * 1000
    assert event_time(an_hour_ago, now) == now - timedelta(hours=1)
    assert event_time((now - timedelta(days=2)).timestamp() * 1000, now) == now
    assert event_time((now + timedelta(minutes=1)).timestamp() * 1000, now) == now
    assert event_time(None, now) == now
    assert event_time(1e300, now) == now


def test_geo_from_proxy_headers() -> None:
    headers = {
        "cf-ipcountry": "tr",
        "cf-region": "Istanbul",
        "cf-ipcity": "Kad%C4%B1k%C3%B6y",
        "cf-iplatitude": "40.99",
        "cf-iplongitude": "29.03",
    }
    geo = from_headers(headers, "cloudflare")
    assert geo is not None
    assert (geo.country_code, geo.region, geo.city, geo.latitude) == (
        "TR",
        "Istanbul",
        "Kad\u0131k\u00f6y",  # Kadıköy  # noqa: RUF003
        40.99,
    )
    assert from_headers({"cf-ipcountry": "XX"}, "cloudflare") is None


def test_geo_headers_count_only_from_trusted_peers() -> None:
    resolver = GeoResolver("generic", None)
    headers = {"x-geo-country": "DE", "x-geo-city": "Berlin"}
    assert resolver.lookup("1.2.3.4", headers, trusted_peer=True).city == "Berlin"
    assert resolver.lookup("1.2.3.4", headers, trusted_peer=False).country_code is None


def test_geo_from_an_mmdb_file(tmp_path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {"country": {"iso_code": "GB"}, "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
         "city": {"names": {"en": "London"}}, "location": {"latitude": 51.5142, "longitude": -0.0931}},
    )  # fmt: skip
    path = tmp_path / "city.mmdb"
    writer.to_db_file(str(path))
    resolver = GeoResolver("none", path)
    geo = resolver.lookup("81.2.69.160", {}, trusted_peer=False)
    assert (geo.country_code, geo.region, geo.city) == ("GB", "England", "London")
    assert geo.latitude == pytest.approx(51.5142)
    assert resolver.lookup("8.8.8.8", {}, trusted_peer=False).country_code is None
    resolver.close()


def test_bad_geo_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        GeoResolver("akamai", None)
    (tmp_path / "bad.mmdb").write_bytes(b"not a database")
    with pytest.raises(ConfigError):
        GeoResolver("none", tmp_path / "bad.mmdb")
