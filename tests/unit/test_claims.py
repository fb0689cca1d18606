from __future__ import annotations

import json
import uuid

from leadtrail.storage import Claims, DbRole


def test_claims_json_shape() -> None:
    site = uuid.uuid4()
    claims = Claims(role=DbRole.ANALYST, sub="u1", site_ids=(site,))
    assert json.loads(claims.to_json()) == {"sub": "u1", "role": "analyst", "site_ids": [str(site)]}


def test_set_local_sql_quotes_the_value() -> None:
    claims = Claims(role=DbRole.ADMIN, sub="o'brien")
    sql = claims.set_local_sql()
    assert sql.startswith("SET LOCAL ROLE leadtrail_admin; SET LOCAL request.jwt.claims = '")
    assert "o''brien" in sql and "o'brien" not in sql.replace("o''brien", "")
