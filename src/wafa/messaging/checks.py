"""Checking the channels: health, and a test message sent straight through a channel."""

from __future__ import annotations

from dataclasses import dataclass

from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.messaging import rendering, texts
from wafa.messaging.channels import Channel, Outgoing, SendResult, build_channels
from wafa.messaging.channels.base import Health


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
