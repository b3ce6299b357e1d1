"""Gatherings fixtures: messaging's SMTP sinks and pipeline, reused."""

from tests.messaging.conftest import (  # noqa: F401 - re-exported fixtures
    mail_settings,
    pipeline,
    slow_sink,
    smtp_sink,
)
