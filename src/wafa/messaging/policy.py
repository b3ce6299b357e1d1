"""The business's messaging policy: frequency caps, quiet hours and quiet days, bounces.

Stored as one JSON row (``messaging_policy``) and edited on the channels page; absent,
the defaults below apply (email cap 16 h, SMS and WhatsApp 24 h, quiet 21:00-08:00).

Quiet hours apply to marketing only and are read in the customer's own timezone when
it is known, else the business's. A window starts on a weekday (``by_weekday``
overrides the default per weekday: a Thursday-evening window may start earlier) and
may run past midnight. Quiet days (the local weekend, public holidays of the
business's country from the ``holidays`` package, which follows the Persian calendar
for Iran, and days the owner marks) are quiet all day. A message due in quiet time is
held until the first allowed instant, never dropped.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from wafa.core.calendars import closed_days
from wafa.core.time import utcnow
from wafa.messaging.models import Channel, PolicyRecord

POLICY_ROW = 1


class QuietWindow(BaseModel):
    """Quiet from ``start`` to ``end`` local time (``end`` <= ``start``: past midnight)."""

    model_config = ConfigDict(frozen=True)

    start: time = time(21, 0)
    end: time = time(8, 0)

    def interval(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The quiet interval that starts on ``day`` (``None`` when start equals end)."""
        if self.start == self.end:
            return None
        begin = datetime.combine(day, self.start, tzinfo=zone)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        return begin, datetime.combine(end_day, self.end, tzinfo=zone)


class ChannelPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    cap_hours: float = Field(default=16.0, ge=0, description="0: no frequency cap")
    quiet: QuietWindow | None = Field(default_factory=QuietWindow)
    # Weekday (0 = Monday) -> its own window, or None for no quiet hours that evening.
    by_weekday: dict[int, QuietWindow | None] = Field(default_factory=dict)

    @field_validator("by_weekday")
    @classmethod
    def _weekdays(cls, value: dict[int, QuietWindow | None]) -> dict[int, QuietWindow | None]:
        for day in value:
            if not 0 <= day <= 6:
                raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value

    def window(self, day: date) -> QuietWindow | None:
        """The quiet window that starts on ``day``."""
        if day.weekday() in self.by_weekday:
            return self.by_weekday[day.weekday()]
        return self.quiet


class MessagingPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: ChannelPolicy = Field(default_factory=lambda: ChannelPolicy(cap_hours=16))
    sms: ChannelPolicy = Field(default_factory=lambda: ChannelPolicy(cap_hours=24))
    whatsapp: ChannelPolicy = Field(default_factory=lambda: ChannelPolicy(cap_hours=24))
    quiet_weekend: bool = False
    quiet_holidays: bool = False
    holiday_country: str | None = Field(
        default=None, description="ISO country for public holidays; default: the phone region"
    )
    quiet_days: list[date] = Field(default_factory=list)
    double_opt_in: bool = False
    soft_bounce_limit: int = Field(default=3, ge=1)
    retry_minutes: list[int] = Field(default_factory=lambda: [5, 30, 120, 480])

    def channel(self, channel: str) -> ChannelPolicy:
        """The policy of ``channel``."""
        policy: ChannelPolicy = getattr(self, Channel(channel).value)
        return policy


def load_policy(session: Session) -> MessagingPolicy:
    """The stored policy, or the defaults."""
    row = session.get(PolicyRecord, POLICY_ROW)
    return MessagingPolicy.model_validate(row.policy) if row is not None else MessagingPolicy()


def save_policy(session: Session, policy: MessagingPolicy, *, by: str | None) -> None:
    """Replace the stored policy."""
    row = session.get(PolicyRecord, POLICY_ROW)
    data = policy.model_dump(mode="json")
    if row is None:
        session.add(PolicyRecord(id=POLICY_ROW, policy=data, updated_at=utcnow(), updated_by=by))
    else:
        row.policy = data
        row.updated_at = utcnow()
        row.updated_by = by
    session.flush()


class QuietCalendar:
    """Whether a local day is quiet, and when quiet hours end, under one policy."""

    def __init__(self, policy: MessagingPolicy, *, country: str) -> None:
        self.policy = policy
        self.country = (policy.holiday_country or country).upper()
        self._marked = frozenset(policy.quiet_days)

    def holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday of the country."""
        return day in closed_days(self.country, day.year)[0]

    def weekend(self, day: date) -> bool:
        """Whether ``day`` is on the country's weekend (Friday in Iran; Saturday-Sunday ...)."""
        return day.weekday() in closed_days(self.country, day.year)[1]

    def quiet_day(self, day: date) -> bool:
        """Whether no marketing goes out at all on local day ``day``."""
        return (
            day in self._marked
            or (self.policy.quiet_weekend and self.weekend(day))
            or (self.policy.quiet_holidays and self.holiday(day))
        )

    def next_allowed(self, channel: str, at: datetime, zone: ZoneInfo) -> datetime | None:
        """``None`` when marketing on ``channel`` may go at ``at``; else the first instant it may."""
        rules = self.policy.channel(channel)
        candidate = at.astimezone(zone)
        moved = False
        for _ in range(60):  # a bounded walk: at most ~2 weeks of quiet days and windows
            day = candidate.date()
            if self.quiet_day(day):
                candidate = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
                moved = True
                continue
            inside = None
            for start_day in (day - timedelta(days=1), day):
                window = rules.window(start_day)
                span = window.interval(start_day, zone) if window else None
                if span is not None and span[0] <= candidate < span[1]:
                    inside = span
                    break
            if inside is None:
                return candidate if moved else None
            candidate = inside[1]
            moved = True
        return candidate
