"""tests/integration/test_analytics_api.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_analytics_api import *  # noqa: F403
