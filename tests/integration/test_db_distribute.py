"""``leadtrail db distribute`` on plain PostgreSQL: a one-line refusal, nothing changed.
(On Citus it runs in tests/citus/conftest.py for every Citus test session.)"""

from __future__ import annotations

from tests.conftest import ModuleDatabase, leadtrail_cli


async def test_distribute_without_citus_is_a_one_line_refusal(
    test_database: ModuleDatabase, cli_env: dict[str, str]
) -> None:
    code, out, err = await leadtrail_cli(test_database, cli_env, "db", "distribute")
    assert code == 1, out + err
    assert "Citus is not installed in this database" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
