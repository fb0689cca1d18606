"""tests/integration/test_people_via_sync.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_people_via_sync import *  # noqa: F403
