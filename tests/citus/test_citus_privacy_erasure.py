"""tests/integration/test_privacy_erasure.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_privacy_erasure import *  # noqa: F403
