"""tests/integration/test_identity_resolution.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_identity_resolution import *  # noqa: F403
