"""tests/integration/test_sync.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_sync import *  # noqa: F403
