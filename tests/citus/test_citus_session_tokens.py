"""tests/integration/test_session_tokens.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.test_session_tokens import *  # noqa: F403
