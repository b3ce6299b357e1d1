"""Words messaging writes to customers (footers, the unsubscribe page, SMS opt-out), and the
labels of its slugs (skip reasons) for the dashboard.

Marked with ``N_``; ``messaging.po`` translates them to Arabic and Persian. The worker
translates with ``gettext(locale, msgid)`` below, reading the same catalogue the
dashboard merges, so a customer's message and the owner's screen agree.
"""

from __future__ import annotations

from wafa.core.i18n import N_, translate

LOCALES = ("en", "ar", "fa")


def gettext(locale: str, message: str, **params: object) -> str:
    """``message`` in ``locale`` from ``messaging.po`` (English when untranslated), with
    ``%(name)s`` filled."""
    return translate("messaging", locale, message, **params)


UNSUBSCRIBE = N_("Unsubscribe")
UNSUBSCRIBE_LINE = N_("You receive this because you agreed to hear from %(business)s.")
SMS_OPT_OUT = N_("Reply STOP to opt out")
DOUBLE_OPT_IN_SUBJECT = N_("Please confirm your email address")
DOUBLE_OPT_IN_BODY = N_(
    "Hello {{ customer.first_name }}, please confirm that you want news and offers from "
    "{{ business.name }} at this address: {{ confirm_url }}"
)
TEST_SUBJECT = N_("Test message from Wafa")
TEST_BODY = N_("This is a test from %(business)s: if you can read it, the channel works.")

SKIP_REASONS: dict[str, str] = {
    "no_address": N_("No address for this channel"),
    "no_consent": N_("No marketing consent"),
    "topic_refused": N_("The customer refused this topic"),
    "suppressed": N_("The address is suppressed"),
    "frequency_cap": N_("Frequency cap"),
    "channel_off": N_("The channel is not set up"),
    "invalid_address": N_("Invalid address"),
    "expired": N_("Too late to send"),
    "customer_gone": N_("The customer was erased or merged"),
    "cancelled": N_("Cancelled"),
    "render_error": N_("The template could not be rendered"),
    "not_confirmed": N_("Email address not confirmed yet (double opt-in)"),
}

STATUS_LABELS: dict[str, str] = {
    "queued": N_("Queued"),
    "paused": N_("Paused"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
    "skipped": N_("Skipped"),
    "unknown": N_("Unknown"),
}
