"""tests/integration/test_funnels.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_funnels import *  # noqa: F403
