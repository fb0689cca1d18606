from __future__ import annotations

import pytest

from leadtrail.auth import api_keys
from leadtrail.errors import BadRequest


def test_generated_keys_parse_back_to_their_prefix() -> None:
    seen = set()
    for _ in range(50):
        key, prefix = api_keys.generate()
        assert api_keys.parse_prefix(key) == prefix
        assert prefix.startswith("lt_") and len(prefix) == 11
        seen.add(key)
    assert len(seen) == 50


@pytest.mark.parametrize(
    "key", ["", "lt_", "lt_abc_def", "xx_aaaaaaaa_" + "A" * 32, "lt_aaaaaaaa_" + "A" * 31]
)
def test_malformed_keys_have_no_prefix(key: str) -> None:
    assert api_keys.parse_prefix(key) is None


def test_hash_is_stable_and_not_the_key() -> None:
    key, _ = api_keys.generate()
    assert api_keys.hash_key(key) == api_keys.hash_key(key)
    assert key.encode() not in api_keys.hash_key(key)


def test_scopes_are_checked() -> None:
    assert api_keys.normalize_scopes(["Read", "ingest", "read"]) == ("ingest", "read")
    for bad in ([], ["write"], [" "]):
        with pytest.raises(BadRequest):
            api_keys.normalize_scopes(bad)
