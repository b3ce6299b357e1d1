"""Words messaging writes to customers (footers, the unsubscribe page, SMS opt-out), and the
labels of its slugs (skip reasons) for the dashboard.

Marked with ``N_``; ``messaging.po`` translates them to Arabic and Persian. The worker
translates with ``gettext(locale, msgid)`` below, reading the same catalogue the
dashboard merges, so a customer's message and the owner's screen agree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LOCALES = ("en", "ar", "fa")
RTL = frozenset({"ar", "fa"})


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it here."""
    return message


@lru_cache(maxsize=8)
def _catalogue(locale: str) -> dict[str, str]:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messaging.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain="messaging")
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.string, str) and m.string and not m.fuzzy
    }


def gettext(locale: str, message: str, **params: object) -> str:
    """``message`` in ``locale`` (English when untranslated), with ``%(name)s`` filled."""
    text = _catalogue(locale).get(message, message) if locale != "en" else message
    return text % params if params else text


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
