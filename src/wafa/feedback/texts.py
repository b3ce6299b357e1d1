"""Words feedback writes to customers (complaint received, answered, resolved) and the labels
of its slugs (categories, severities, statuses) for the dashboard.

Marked with ``N_``; ``feedback.po`` translates them to Arabic and Persian. Messages are
built in every language at once (``in_every_language``), so the messaging worker sends
each customer their own.
"""

from __future__ import annotations

from wafa.core.i18n import N_, translate

LOCALES = ("en", "ar", "fa")


def gettext(locale: str, message: str) -> str:
    """``message`` in ``locale`` from ``feedback.po`` (English when untranslated)."""
    return translate("feedback", locale, message)


def in_every_language(message: str) -> dict[str, str]:
    """``{"en": ..., "ar": ..., "fa": ...}`` for a marked message."""
    return {locale: gettext(locale, message) for locale in LOCALES}


RECEIVED_SUBJECT = N_("We received your message")
RECEIVED_TEXT = N_(
    "Hello {{ customer.first_name }}, thank you for telling us. We have recorded your "
    "complaint and will answer you soon."
)
REPLY_SUBJECT = N_("An answer to your complaint")
RESOLVED_SUBJECT = N_("Your complaint is resolved")
RESOLVED_TEXT = N_(
    "Hello {{ customer.first_name }}, we have resolved your complaint. Thank you for your patience."
)
RESOLVED_SURVEY = N_("How did we handle it? Tell us in one tap: {{ survey_url }}")

PROMOTER_SUBJECT = N_("Thank you for recommending us")
PROMOTER_TEXT = N_(
    "{{ customer.first_name }}, thank you for your kind answer! If a friend would like us too, "
    "share your link: {{ referral_link }} — you both get a gift."
)

CATEGORIES: dict[str, str] = {
    "late_delivery": N_("Late delivery"),
    "wrong_item": N_("Wrong item"),
    "damaged": N_("Damaged"),
    "quality": N_("Quality"),
    "staff": N_("Staff"),
    "price": N_("Price or billing"),
    "website": N_("Website"),
    "other": N_("Other"),
}
SEVERITIES: dict[str, str] = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
STATUSES: dict[str, str] = {
    "new": N_("New"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "waiting": N_("Waiting on the customer"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
}
CHANNELS: dict[str, str] = {
    "dashboard": N_("Dashboard"),
    "pos": N_("Point of sale"),
    "portal": N_("Customer portal"),
    "api": N_("API"),
    "survey": N_("Survey answer"),
    "phone": N_("Phone"),
    "email": N_("Email"),
}
ALERTS: dict[str, str] = {
    "first_response_warning": N_("The first answer is due soon"),
    "first_response_breach": N_("The first answer is late: escalated to the owner"),
    "resolution_warning": N_("The resolution is due soon"),
    "resolution_breach": N_("The resolution is late: escalated to the owner"),
}

# An SLA breach, by email to the assignee and the owner (``%(...)s`` filled after translation).
BREACH_MAIL_SUBJECT = N_("Complaint overdue: %(what)s")
BREACH_MAIL_TEXT = N_(
    "%(what)s.\n\nCategory: %(category)s. Severity: %(severity)s. Due: %(due)s (UTC).\n"
    "Filed: %(filed)s (UTC).\n\nOpen the complaint: %(link)s"
)
