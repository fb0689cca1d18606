"""Provider signatures (checked against twilio's own RequestValidator), payload mappings,
the encrypted secrets and the Microsoft Ads file: pure parts of issue 11's call tracking."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from twilio.request_validator import RequestValidator

from leadtrail.adspend import microsoft_ads
from leadtrail.adspend.google_ads import OfflineConversion
from leadtrail.callproviders import mapping, signatures, vault

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://stats.example.com/api/webhooks/twilio/site_abc"
FORM = {"CallSid": "CA1", "From": "+14195550166", "To": "+14195550201", "CallStatus": "completed"}


def test_twilio_signature_is_twilios() -> None:
    expected = RequestValidator(TOKEN).compute_signature(URL, FORM)
    assert signatures.twilio_signature(TOKEN, URL, list(FORM.items())) == expected
    assert signatures.twilio_valid(TOKEN, URL, list(FORM.items()), expected)


def test_twilio_signature_accepts_the_default_port_either_way() -> None:
    signed_with_port = RequestValidator(TOKEN).compute_signature(
        URL.replace(".com/", ".com:443/"), FORM
    )
    assert signatures.twilio_valid(TOKEN, URL, list(FORM.items()), signed_with_port)


def test_twilio_signature_refuses_changes() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, FORM)
    changed = {**FORM, "To": "+14195550999"}
    assert not signatures.twilio_valid(TOKEN, URL, list(changed.items()), signature)
    assert not signatures.twilio_valid(
        "another-token-0123456789", URL, list(FORM.items()), signature
    )
    assert not signatures.twilio_valid(TOKEN, URL, list(FORM.items()), "")


def test_generic_signature_with_or_without_prefix() -> None:
    body = b'{"id":"CAL1"}'
    signature = signatures.generic_signature("secret-0123456789", body)
    assert signature.startswith("sha256=")
    assert signatures.generic_valid("secret-0123456789", body, signature)
    assert signatures.generic_valid("secret-0123456789", body, signature.removeprefix("sha256="))
    assert not signatures.generic_valid("secret-0123456789", body + b" ", signature)
    assert not signatures.generic_valid("secret-0123456789", body, "")


def test_callrail_fields_map_to_call_fields() -> None:
    out = mapping.generic(
        {
            "id": "CAL1",
            "start_time": "2026-02-06T14:03:12-05:00",
            "customer_phone_number": "+14195550166",
            "tracking_phone_number": "+14195550201",
            "duration": "61",
            "recording": "https://app.callrail.com/calls/CAL1/recording",
            "answered": True,
        }
    )
    assert out == {
        "external_call_id": "CAL1",
        "started_at": "2026-02-06T14:03:12-05:00",
        "caller_number": "+14195550166",
        "tracking_number": "+14195550201",
        "duration_s": 61,
        "recording_url": "https://app.callrail.com/calls/CAL1/recording",
        "provider": "webhook",
    }
    assert "recording_url" not in mapping.generic({"audio": "javascript:alert(1)"})


def test_twilio_callback_maps_and_waits_for_the_final_status() -> None:
    assert mapping.twilio({**FORM, "CallStatus": "ringing"}) is None
    out = mapping.twilio(
        {**FORM, "CallDuration": "42", "Timestamp": "Fri, 06 Feb 2026 19:03:54 +0000"}
    )
    assert out is not None
    assert out["external_call_id"] == "CA1" and out["tracking_number"] == "+14195550201"
    assert out["caller_number"] == "+14195550166" and out["duration_s"] == 42
    assert datetime.fromisoformat(out["started_at"]) == datetime(2026, 2, 6, 19, 3, 12, tzinfo=UTC)


def test_secrets_are_encrypted_and_bound_to_the_server_key() -> None:
    token = vault.encrypt(b"server-key-1", TOKEN)
    assert TOKEN not in token
    assert vault.decrypt(b"server-key-1", token) == TOKEN
    assert vault.decrypt(b"server-key-2", token) is None


def test_microsoft_ads_file() -> None:
    rows = [
        OfflineConversion(
            "msclk-0123456789", datetime(2026, 2, 6, 19, 3, 12, tzinfo=UTC), Decimal("400.00"), None
        ),
        OfflineConversion("bad id with spaces", datetime(2026, 2, 6, tzinfo=UTC), None, None),
    ]
    text = microsoft_ads.render(rows, "Qualified call", "USD")
    assert text.splitlines() == [
        "Type,Status,Id,Parent Id,Client Id,Name,Conversion Currency Code,Conversion Name,"
        "Conversion Time,Conversion Value,Microsoft Click Id",
        "Format Version,,,,,6.0,,,,,",
        "Offline Conversion,,,,,,USD,Qualified call,2/6/2026 7:03:12 PM,400,msclk-0123456789",
    ]
    assert microsoft_ads.bulk_time(datetime(2026, 2, 6, 0, 5, tzinfo=UTC)) == "2/6/2026 12:05:00 AM"
