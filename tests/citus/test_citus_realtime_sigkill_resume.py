"""tests/integration/realtime/test_sigkill_resume.py against the Citus cluster (see tests/citus/conftest.py)."""

from tests.integration.realtime.conftest import *  # noqa: F403
from tests.integration.realtime.test_sigkill_resume import *  # noqa: F403
