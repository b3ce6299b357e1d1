"""The complaint log's settings (one stored row) and the business-hours clock its SLA
timers run on.

SLA targets are business hours per severity (Zammad's model): the clock runs only inside
the weekly opening hours, not on the local weekend (from the ``holidays`` package: Friday
in Iran, Saturday–Sunday in most of Europe) nor on public holidays of the business's
country (the ``holidays`` package follows the Persian calendar for Iran, so Nowruz is
closed), and not while the complaint waits on the customer.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator
from sqlalchemy.orm import Session

from wafa.core.calendars import closed_days
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.feedback.models import FeedbackPolicy, Severity

POLICY_ROW = 1
CATEGORIES = (
    "late_delivery",
    "wrong_item",
    "damaged",
    "quality",
    "staff",
    "price",
    "website",
    "other",
)


class Target(BaseModel):
    """Business hours to the first response and to resolution."""

    model_config = ConfigDict(frozen=True)

    first_response_hours: float = Field(gt=0, le=1000)
    resolution_hours: float = Field(gt=0, le=5000)


# A wall-clock time of the business day, with no offset. JSON Schema's "time" format (RFC
# 3339) requires an offset, so "09:00:00" broke the documented schema (schemathesis's
# response check); the API documents HH:MM[:SS] instead.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
            "examples": ["09:00"],
        }
    ),
]


class Opening(BaseModel):
    """Opening hours of one weekday (0 = Monday … 6 = Sunday), local time."""

    model_config = ConfigDict(frozen=True)

    weekday: int = Field(ge=0, le=6)
    opens: LocalTime
    closes: LocalTime

    @field_validator("closes")
    @classmethod
    def _after(cls, value: time, info: object) -> time:
        opens = getattr(info, "data", {}).get("opens")
        if opens is not None and value <= opens:
            raise ValueError("closes must be after opens")
        return value


def _default_opening() -> list[Opening]:
    return [Opening(weekday=d, opens=time(9), closes=time(17)) for d in range(7)]


def _default_targets() -> dict[str, Target]:
    return {
        Severity.urgent.value: Target(first_response_hours=1, resolution_hours=8),
        Severity.high.value: Target(first_response_hours=4, resolution_hours=16),
        Severity.normal.value: Target(first_response_hours=8, resolution_hours=40),
        Severity.low.value: Target(first_response_hours=16, resolution_hours=80),
    }


class Limit(BaseModel):
    """The most one staff role may give for one complaint (``None``: no limit)."""

    model_config = ConfigDict(frozen=True)

    points: int | None = Field(default=None, ge=0)
    amount: int | None = Field(default=None, ge=0, description="minor units of the currency")
    percent: int | None = Field(default=None, ge=0, le=100)
    free_product: bool = True


def _default_limits() -> dict[str, Limit]:
    return {
        "cashier": Limit(points=100, amount=500, percent=10, free_product=False),
        "manager": Limit(points=1000, amount=5000, percent=30),
        "owner": Limit(),
    }


class Policy(BaseModel):
    """What the owner sets for complaints (one row, ``feedback_policy``)."""

    model_config = ConfigDict(frozen=True)

    categories: list[str] = Field(default_factory=lambda: list(CATEGORIES), min_length=1)
    opening: list[Opening] = Field(default_factory=_default_opening)
    holiday_country: str | None = Field(
        default=None,
        description="ISO country of public holidays and weekend; default: the phone region",
    )
    targets: dict[str, Target] = Field(default_factory=_default_targets)
    warn_before_hours: float = Field(default=1, ge=0, le=100)
    complaint_from_surveys: bool = True
    promoter_invitation: bool = True
    limits: dict[str, Limit] = Field(default_factory=_default_limits)

    @field_validator("categories")
    @classmethod
    def _slugs(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip().lower().replace(" ", "_") for v in value if v.strip()]
        if any(len(v) > 40 for v in cleaned):
            raise ValueError("a category is at most 40 characters")
        return list(dict.fromkeys(cleaned))

    @field_validator("targets")
    @classmethod
    def _every_severity(cls, value: dict[str, Target]) -> dict[str, Target]:
        missing = {s.value for s in Severity} - set(value)
        if missing:
            raise ValueError(f"a target for every severity is needed: {', '.join(sorted(missing))}")
        return value


def load_policy(session: Session) -> Policy:
    """The stored policy, or the defaults."""
    row = session.get(FeedbackPolicy, POLICY_ROW)
    return Policy.model_validate(row.policy) if row is not None else Policy()


def save_policy(session: Session, policy: Policy, *, by: str | None) -> None:
    """Replace the stored policy (new complaints use it; open ones keep their due times)."""
    row = session.get(FeedbackPolicy, POLICY_ROW)
    data = policy.model_dump(mode="json")
    if row is None:
        session.add(FeedbackPolicy(id=POLICY_ROW, policy=data, updated_at=utcnow(), updated_by=by))
    else:
        row.policy = data
        row.updated_at = utcnow()
        row.updated_by = by
    session.flush()


class BusinessClock:
    """Counts business time: opening hours, minus the weekend and public holidays."""

    MAX_DAYS = 800  # a bounded walk (two years of days)

    def __init__(self, policy: Policy, *, zone: ZoneInfo, country: str) -> None:
        self.zone = zone
        self.country = (policy.holiday_country or country).upper()
        self.hours: dict[int, tuple[time, time]] = {
            o.weekday: (o.opens, o.closes) for o in policy.opening
        }

    def open_on(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's open interval (aware), or ``None`` when closed all day."""
        holidays_, weekend = closed_days(self.country, day.year)
        hours = self.hours.get(day.weekday())
        if hours is None or day in holidays_ or day.weekday() in weekend:
            return None
        opens = datetime.combine(day, hours[0], tzinfo=self.zone)
        closes = datetime.combine(day, hours[1], tzinfo=self.zone)
        return opens, closes

    def seconds_between(self, start: datetime, end: datetime) -> int:
        """Business seconds in ``[start, end)`` (0 when ``end`` <= ``start``)."""
        if end <= start:
            return 0
        total = 0.0
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            span = self.open_on(day)
            if span is not None:
                lo, hi = max(span[0], start), min(span[1], end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return int(total)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` of business time after ``start``."""
        left = float(seconds)
        day = start.astimezone(self.zone).date()
        for _ in range(self.MAX_DAYS):
            span = self.open_on(day)
            if span is not None:
                lo = max(span[0], start)
                if lo < span[1]:
                    room = (span[1] - lo).total_seconds()
                    if left <= room:
                        return (lo + timedelta(seconds=left)).astimezone(start.tzinfo)
                    left -= room
            day += timedelta(days=1)
        raise ValueError("no business hours in the next two years: check the opening hours")


def clock_for(session: Session, settings: Settings, policy: Policy | None = None) -> BusinessClock:
    """The business clock under the stored policy and the business's zone and country."""
    return BusinessClock(
        policy or load_policy(session), zone=settings.zone, country=settings.phone_region
    )
