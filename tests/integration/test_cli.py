"""The command line against a real database: one-line errors, non-zero exits, --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ModuleDatabase, run_leadtrail


@pytest.fixture(scope="module")
def run(test_database: ModuleDatabase, cli_env: dict[str, str]):  # type: ignore[no-untyped-def]
    env = {
        **cli_env,
        "LEADTRAIL_DATABASE_URL": test_database.owner_dsn,
        "LEADTRAIL_PUBLIC_URL": "https://lt.example",
    }

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return run_leadtrail(env, *args, timeout=60)

    return invoke


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_users_sites_keys_roundtrip(run) -> None:  # type: ignore[no-untyped-def]
    created = run("users", "create", "owner@example.com", "--password", "s3cret-pass")
    assert created.returncode == 0, created.stderr
    assert "owner@example.com" in run("users", "list").stdout

    site = run(
        "sites",
        "create",
        "Shop",
        "--domain",
        "https://Shop.Example.com/",
        "--owner",
        "owner@example.com",
        "--public-id",
        "shop_1",
    )
    assert site.returncode == 0, site.stderr
    assert 'src="https://lt.example/assets/core.js" data-site-id="shop_1"' in site.stdout
    assert "shop_1  shop.example.com  Shop" in run("sites", "list").stdout

    key = run(
        "keys",
        "create",
        "--site",
        "shop_1",
        "--name",
        "crm",
        "--scope",
        "ingest",
        "--scope",
        "read",
    )
    assert key.returncode == 0, key.stderr
    secret = key.stdout.strip()
    prefix = secret[:11]
    listed = run("keys", "list", "--site", "shop_1").stdout
    assert prefix in listed and secret not in listed and "active" in listed
    assert run("keys", "revoke", "--site", "shop_1", prefix).returncode == 0
    assert "revoked" in run("keys", "list", "--site", "shop_1").stdout


def test_bad_input_gives_one_line_errors(run) -> None:  # type: ignore[no-untyped-def]
    run("users", "create", "dup@example.com", "--password", "s3cret-pass")
    assert_one_line_error(
        run("users", "create", "dup@example.com", "--password", "s3cret-pass"), "already exists"
    )
    assert_one_line_error(
        run("users", "create", "not-an-email", "--password", "s3cret-pass"), "not an email"
    )
    assert_one_line_error(
        run("users", "create", "short@example.com", "--password", "short"), "at least 8"
    )
    assert_one_line_error(
        run("sites", "create", "X", "--domain", "bad domain!"), "not a valid domain"
    )
    assert_one_line_error(
        run("sites", "create", "X", "--domain", "x.com", "--owner", "ghost@example.com"), "no user"
    )
    run("sites", "create", "Twin", "--domain", "twin.com", "--public-id", "twin_1")
    assert_one_line_error(
        run("sites", "create", "Twin", "--domain", "twin.com", "--public-id", "twin_1"),
        "already exists",
    )
    assert_one_line_error(run("keys", "create", "--site", "nope_404"), "no site")
    assert_one_line_error(
        run("sites", "create", "X", "--domain", "x.com", "--timezone", "Mars/Base"), "time zone"
    )


def test_bad_settings_give_one_line_errors(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leadtrail", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**cli_env, "LEADTRAIL_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert (
        result.returncode != 0
        and "cannot connect" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = subprocess.run(
        [sys.executable, "-m", "leadtrail", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**cli_env, "LEADTRAIL_PORT": "not-a-port"},
    )
    assert (
        result.returncode != 0
        and "LEADTRAIL_PORT" in result.stderr
        and "Traceback" not in result.stderr
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["migrate"],
        ["db"],
        ["db", "url"],
        ["db", "check"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
        ["sites"],
        ["sites", "create"],
        ["sites", "list"],
        ["keys"],
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "revoke"],
    ],
)
def test_every_command_has_help(run, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = run(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout
