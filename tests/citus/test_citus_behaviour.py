"""tests/integration/test_behaviour.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_behaviour import *  # noqa: F403
