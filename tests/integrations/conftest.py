"""A real SMTP server on loopback (aiosmtpd) for the owner's notices, as messaging's tests use."""

from tests.messaging.conftest import smtp_sink  # noqa: F401 - the fixture, shared
