"""tests/integration/test_retention.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_retention import *  # noqa: F403
