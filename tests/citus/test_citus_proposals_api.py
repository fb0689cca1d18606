"""tests/integration/test_proposals_api.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_proposals_api import *  # noqa: F403
