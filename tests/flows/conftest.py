"""Flows fixtures: messaging's SMTP sinks and pipeline, reused."""

from tests.messaging.conftest import (  # noqa: F401 - re-exported fixtures
    mail_settings,
    pipeline,
    smtp_sink,
)
from tests.messaging.test_crash import slow_sink  # noqa: F401 - re-exported fixture
