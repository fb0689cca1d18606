"""tests/integration/realtime/test_two_nodes.py against the Citus cluster (see tests/citus/conftest.py)."""

import pytest

from tests.conftest import ModuleDatabase
from tests.integration.realtime.conftest import *  # noqa: F403
from tests.integration.realtime.test_two_nodes import *  # noqa: F403


@pytest.fixture(scope="module")
def test_database(citus_realtime_database: ModuleDatabase) -> ModuleDatabase:
    """The realtime modules' database (tests/citus/conftest.py)."""
    return citus_realtime_database
