"""tests/integration/realtime/test_authorisation.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.realtime.conftest import *  # noqa: F403
from tests.integration.realtime.test_authorisation import *  # noqa: F403
