"""tests/integration/test_retention.py against the Citus cluster (see tests/citus/conftest.py),
in a database of its own: the test expects whole months to hold only its own sites' rows."""

import pytest

from tests.citus.cluster import CitusCluster
from tests.citus.conftest import own_database
from tests.conftest import ModuleDatabase
from tests.integration.test_retention import *  # noqa: F403


@pytest.fixture(scope="module")
async def test_database(
    citus_cluster: CitusCluster, citus_database: ModuleDatabase
) -> ModuleDatabase:
    return await own_database(citus_cluster, "leadtrail_retention")
