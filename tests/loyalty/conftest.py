"""The ``wafa`` CLI fixture for the loyalty CLI tests; the SMTP sink for the bounce-back mail."""

from tests.cli.conftest import wafa  # noqa: F401 - re-exported fixture
from tests.messaging.conftest import smtp_sink  # noqa: F401 - re-exported fixture
