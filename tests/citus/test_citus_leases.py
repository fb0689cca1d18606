"""tests/integration/test_leases.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_leases import *  # noqa: F403
