"""tests/integration/test_experiments_api.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_experiments_api import *  # noqa: F403
