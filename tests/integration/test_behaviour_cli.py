"""``leadtrail behaviour``: capture on and off with thresholds, status, rebuild, bad input."""

from __future__ import annotations

import json

from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import ModuleDatabase, leadtrail_cli


async def test_enable_status_disable_and_rebuild(
    db: Database, test_database: ModuleDatabase, cli_env: dict[str, str]
) -> None:
    async with db.system() as conn:
        await create_site(conn, name="Cli", domain="cli.example", public_id="bx_cli")
    code, out, err = await leadtrail_cli(
        test_database, cli_env, "behaviour", "enable", "bx_cli", "--sample-rate", "0.5",
        "--threshold", "rage_clicks=4",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = await leadtrail_cli(test_database, cli_env, "behaviour", "status", "bx_cli")
    shown = json.loads(out)
    assert shown["enabled"] is True and shown["sample_rate"] == 0.5
    assert shown["thresholds"]["rage_clicks"] == 4 and shown["thresholds"]["hesitation_ms"] == 2000
    code, out, _ = await leadtrail_cli(test_database, cli_env, "behaviour", "rebuild", "bx_cli")
    assert code == 0 and "0 days re-aggregated" in out
    code, out, _ = await leadtrail_cli(test_database, cli_env, "behaviour", "disable", "bx_cli")
    assert code == 0 and '"enabled": false' in out


async def test_bad_input_is_one_line(
    test_database: ModuleDatabase, cli_env: dict[str, str]
) -> None:
    code, _, err = await leadtrail_cli(
        test_database, cli_env, "behaviour", "enable", "bx_cli", "--threshold", "rage_clicks=1"
    )
    assert code != 0 and err.strip().count("\n") == 0 and "rage_clicks" in err
    code, _, err = await leadtrail_cli(test_database, cli_env, "behaviour", "status", "nope")
    assert code != 0 and err.startswith("error:") and "Traceback" not in err
