"""Channels by name: ``build_channels(settings)`` gives the pipeline one per medium.

=============  ==============================================  =========================
channel        setting                                          implementation
=============  ==============================================  =========================
``email``      ``WAFA_SMTP_URL`` (``smtp://`` / ``smtps://``)   ``channels.smtp``
``sms``        ``WAFA_SMS_URL`` (``twilio://``, ``kavenegar://``, ``channels.http``
               ``json+https://``, ``form+https://``)
``whatsapp``   ``WAFA_WHATSAPP_URL`` (``twilio://``, generic)   ``channels.http``
=============  ==============================================  =========================

A channel without settings is ``Disabled``: its messages are skipped with the reason
``channel_off``, and the worker carries on.
"""

from __future__ import annotations

from wafa.core.settings import Settings
from wafa.messaging.channels.base import Channel, Disabled, Health, Outcome, Outgoing, SendResult
from wafa.messaging.channels.http import build_provider
from wafa.messaging.channels.smtp import Dkim, SmtpChannel

__all__ = ["Channel", "Disabled", "Health", "Outcome", "Outgoing", "SendResult", "build_channels"]


def _domain_of(address: str) -> str:
    return address.split("<")[-1].rstrip(">").rsplit("@", 1)[-1].strip()


def build_email(settings: Settings, *, share: int = 1) -> Channel:
    """The email channel the settings describe (or a disabled one)."""
    if not settings.smtp_url:
        return Disabled("email", "WAFA_SMTP_URL is not set: email is off")
    dkim = None
    if settings.dkim_key_file:
        dkim = Dkim(
            settings.dkim_key_file,
            selector=settings.dkim_selector,
            domain=settings.dkim_domain or _domain_of(settings.mail_from),
        )
    return SmtpChannel(
        settings.smtp_url,
        mail_from=settings.mail_from,
        marketing_from=settings.mail_from_marketing,
        reply_to=settings.mail_reply_to,
        dkim_signer=dkim,
        rate=settings.email_rate / share,
    )


def build_channels(settings: Settings, *, share: int = 1) -> dict[str, Channel]:
    """One channel per medium, from the settings (``share``: the rate limits are split
    between that many connections)."""
    sms: Channel = (
        build_provider(settings.sms_url, channel="sms", rate=settings.sms_rate / share)
        if settings.sms_url
        else Disabled("sms", "WAFA_SMS_URL is not set: SMS is off")
    )
    whatsapp: Channel = (
        build_provider(
            settings.whatsapp_url, channel="whatsapp", rate=settings.whatsapp_rate / share
        )
        if settings.whatsapp_url
        else Disabled("whatsapp", "WAFA_WHATSAPP_URL is not set: WhatsApp is off")
    )
    return {"email": build_email(settings, share=share), "sms": sms, "whatsapp": whatsapp}
