"""tests/integration/test_rollups_match_raw.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_rollups_match_raw import *  # noqa: F403
