"""Checking the channels: health (on demand, and every ``CHECK_EVERY`` seconds by the
worker, kept per channel with since when it fails), and a test message sent straight
through a channel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.messaging import rendering, texts
from wafa.messaging.channels import Channel, Outgoing, SendResult, build_channels
from wafa.messaging.channels.base import Disabled, Health
from wafa.messaging.channels.smtp import SmtpChannel
from wafa.messaging.models import ChannelCheck

log = logging.getLogger("wafa.messaging")

#: How often the worker checks the configured channels (seconds).
CHECK_EVERY = 600.0
#: How long a scheduled check waits for a mail server (the worker's pass waits too).
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class ChannelStatus:
    name: str
    kind: str
    health: Health


def channel_health(
    settings: Settings, channels: dict[str, Channel] | None = None
) -> list[ChannelStatus]:
    """Each channel's health (email: connect and NOOP; providers: reach the host)."""
    channels = channels or build_channels(settings)
    out = []
    for name, channel in channels.items():
        try:
            health = channel.health()
        except Exception as exc:  # a health check reports, it never raises
            health = Health(False, str(exc))
        finally:
            channel.close()
        out.append(ChannelStatus(name, channel.name, health))
    return out


def send_test(
    settings: Settings, *, to: str, channel: str | None = None, locale: str | None = None
) -> SendResult:
    """Send a test straight through ``channel`` (email for an address with ``@``, else SMS)."""
    channel = channel or ("email" if "@" in to else "sms")
    locale = locale or str(settings.locale)
    impl = build_channels(settings)[channel]
    body = texts.gettext(locale, texts.TEST_BODY, business=settings.business_name)
    html = None
    if channel == "email":
        html = rendering.render_email_html(
            rendering.text_to_html(body),
            locale=locale,
            subject=texts.gettext(locale, texts.TEST_SUBJECT),
            business_name=settings.business_name,
            unsubscribe_url=None,
            footer_lines=[],
        )
    try:
        return impl.send(
            Outgoing(
                message_id=new_id(),
                channel=channel,
                kind="transactional",
                to=to,
                text=body,
                subject=texts.gettext(locale, texts.TEST_SUBJECT),
                html=html,
                locale=locale,
            )
        )
    finally:
        impl.close()


def record_checks(
    session: Session, statuses: Sequence[ChannelStatus], *, now: datetime
) -> list[str]:
    """Keep each checked channel's result (in the caller's transaction); a channel no
    longer set up loses its row. The channels that were ready and are not any more."""
    checked = {status.name for status in statuses}
    session.execute(delete(ChannelCheck).where(ChannelCheck.channel.not_in(checked)))
    turned: list[str] = []
    for status in statuses:
        row = session.get(ChannelCheck, status.name)
        if row is None:
            row = ChannelCheck(channel=status.name, failing_since=None)
            session.add(row)
        elif row.ok and not status.health.ok:
            turned.append(status.name)
        if status.health.ok:
            row.failing_since = None
        elif row.failing_since is None:
            row.failing_since = now
            if status.name not in turned:
                turned.append(status.name)
        row.ok = status.health.ok
        row.detail = status.health.detail[:2000]
        row.checked_at = now
    session.flush()
    return turned


def last_checks(session: Session) -> dict[str, ChannelCheck]:
    """The worker's last check of each channel set up, by channel name."""
    return {row.channel: row for row in session.scalars(select(ChannelCheck))}


def check_channels(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """The worker's task: check every channel that is set up (a mail server is given
    ``CHECK_TIMEOUT`` to answer) and keep the results; a channel that stops being ready
    is logged as a warning. How many are failing."""
    channels: dict[str, Channel] = {
        name: channel
        for name, channel in build_channels(settings).items()
        if not isinstance(channel, Disabled)
    }
    for channel in channels.values():
        if isinstance(channel, SmtpChannel):
            channel.timeout = CHECK_TIMEOUT
    statuses = channel_health(settings, channels) if channels else []
    with factory() as session, session.begin():
        turned = record_checks(session, statuses, now=utcnow())
    for status in statuses:
        if status.name in turned:
            log.warning("channel %s is not ready: %s", status.name, status.health.detail)
    return {"failing": sum(not status.health.ok for status in statuses)}
