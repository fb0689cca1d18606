"""tests/integration/test_webhooks.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_webhooks import *  # noqa: F403
