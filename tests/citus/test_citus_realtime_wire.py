"""tests/integration/realtime/test_wire.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.realtime.conftest import *  # noqa: F403
from tests.integration.realtime.test_wire import *  # noqa: F403
