"""Words the campaign screens share: a campaign's statuses, its schedules, coupon kinds."""

from __future__ import annotations

from wafa.messaging.texts import SKIP_REASONS, STATUS_LABELS
from wafa.web.i18n import N_

CAMPAIGN_STATUSES: dict[str, str] = {
    "draft": N_("Draft"),
    "scheduled": N_("Scheduled"),
    "queuing": N_("Queuing recipients"),
    "sending": N_("Sending"),
    "paused": N_("Paused"),
    "cancelled": N_("Cancelled"),
    "finished": N_("Finished"),
}

SCHEDULES: dict[str, str] = {
    "now": N_("Now"),
    "at": N_("At a date and time"),
    "local": N_("At a local time in each customer's timezone"),
}

FAILURES: dict[str, str] = {
    "hard_bounce": N_("Bounced (the address does not exist)"),
    "bounced": N_("Bounced (reported later)"),
    "soft_bounces": N_("Temporary failures in a row"),
    "complaint": N_("Marked as spam"),
    "refused": N_("Refused by the server"),
    "retries_exhausted": N_("Retries exhausted"),
}

#: The rule a scheduled campaign follows, said where it is scheduled and on its page.
SNAPSHOT_RULE = N_(
    "Sent for later, a campaign takes its recipients from the segment at the scheduled time "
    "(for a local time, when the first time zone reaches it), not when you press Send: "
    "customers who join the segment before then get it, those who leave do not."
)

WORDS = {
    "snapshot_rule": SNAPSHOT_RULE,
    "campaign_statuses": CAMPAIGN_STATUSES,
    "schedules": SCHEDULES,
    "status_labels": STATUS_LABELS,
    "skip_reasons": SKIP_REASONS,
    "failures": FAILURES,
}
