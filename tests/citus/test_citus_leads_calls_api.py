"""tests/integration/test_leads_calls_api.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_leads_calls_api import *  # noqa: F403
