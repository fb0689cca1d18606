"""tests/integration/test_sync_writer.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_sync_writer import *  # noqa: F403
