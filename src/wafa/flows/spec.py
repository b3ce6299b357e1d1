"""What a flow is, as data: a trigger, filters, steps, an exit condition.

A flow's definition is stored as JSON on its row and validated by these models every
time it is read or saved::

    {
      "trigger": {"type": "event", "topic": "order.placed"},
      "filters": {"all": [{"field": "orders_count", "op": ">=", "value": 2}]},
      "steps": [
        {"key": "thanks", "type": "send", "channel": "email", "fallback": "sms",
         "template": "flow.thank_you.thanks"},
        {"key": "day", "type": "wait", "days": 1, "at": "10:00"},
        {"key": "again", "type": "branch", "condition": "ordered_since_entry",
         "then": "exit"},
        {"key": "check", "type": "send", "channel": "email", "template": "..."}
      ],
      "exit": {"on_order": true},
      "cooldown_days": 30
    }

Each step has a ``key`` that stays when steps are added, removed or reordered: a
customer's progress is kept as the key of the step they stand at, and every message a
flow queues is keyed on (enrolment, step key), so an edit never sends a step again to
someone who is past it.

Triggers: an outbox event (``event``), a date in the business calendar (``date``:
the customer's birthday in their own calendar, Jalali or Gregorian) or a condition
evaluated once a day (``daily``: a segment rule, such as "no order for 60 days and
P(alive) under 0.3"), a reward now within reach (``reach``) or a product about to
run out (``replenish``: the customer's own rhythm for that product).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wafa.messaging.segments.rules import Rules

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
#: Where a branch may go besides a step key.
EXIT = "exit"
#: Topics a flow can start on (each names the customer it is about).
EVENT_TOPICS: tuple[str, ...] = (
    "order.placed",
    "order.status_changed",
    "customer.created",
    "points.expiring",
    "tier.changed",
    "referral.rewarded",
    "birthday.reward_granted",
    "loyalty.surprise_granted",
    "gathering.invited",
    "gathering.seat_given",
    "gathering.reminder",
    "gathering.cancelled",
)
#: Conditions a branch can test.
CONDITIONS: tuple[str, ...] = ("ordered_since_entry", "order_delivered", "order_not_delivered")
CHANNELS = ("email", "sms", "whatsapp")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Statuses an ``order.status_changed`` trigger can wait for.
MOVES_TO: tuple[str, ...] = ("paid", "fulfilled", "delivered")


class EventTrigger(_Model):
    """Start when an event of ``topic`` is written (``to``: only a status move to it, or
    to one of a list of statuses)."""

    type: Literal["event"] = "event"
    topic: str
    to: str | list[str] | None = None

    @field_validator("to")
    @classmethod
    def _statuses(cls, to: str | list[str] | None) -> str | list[str] | None:
        wanted = [to] if isinstance(to, str) else (to or [])
        if isinstance(to, list) and not to:
            raise ValueError("name at least one status, or leave it out")
        for status in wanted:
            if status not in MOVES_TO:
                raise ValueError(f"unknown status {status!r}; use {', '.join(MOVES_TO)}")
        return to

    def starts_on(self, status_to: str | None) -> bool:
        """Whether a status move to ``status_to`` starts the flow (any, without ``to``)."""
        if self.to is None:
            return True
        return status_to in ([self.to] if isinstance(self.to, str) else self.to)

    @field_validator("topic")
    @classmethod
    def _known(cls, topic: str) -> str:
        if topic not in EVENT_TOPICS:
            raise ValueError(f"unknown topic {topic!r}; use one of {', '.join(EVENT_TOPICS)}")
        return topic


class DateTrigger(_Model):
    """Start on a date of the customer's own calendar (``birthday``), ``days_before`` it."""

    type: Literal["date"] = "date"
    rule: Literal["birthday"] = "birthday"
    days_before: int = Field(default=0, ge=0, le=30)


class DailyTrigger(_Model):
    """Start, once a day, every customer the segment rule ``rules`` selects."""

    type: Literal["daily"] = "daily"
    rules: dict[str, Any]

    @field_validator("rules")
    @classmethod
    def _valid(cls, rules: dict[str, Any]) -> dict[str, Any]:
        return Rules.model_validate(rules).as_json()


class ReachTrigger(_Model):
    """Start, checked once a day, when a member's available points first reach the cost
    of a catalogue reward (once per reward: the costliest one they can now afford)."""

    type: Literal["reach"] = "reach"


class ReplenishTrigger(_Model):
    """Start, checked once a day, a few days before a customer is expected to run out of
    a product they buy on a rhythm (see ``wafa.flows.replenish`` for the rule).

    ``min_purchases``: purchase days of the product needed (at least two intervals by
    default); ``days_before``: how early the reminder comes; an interval outside
    ``min_interval_days``..``max_interval_days`` is no rhythm (a basket bought twice a
    week, or once a year)."""

    type: Literal["replenish"] = "replenish"
    min_purchases: int = Field(default=3, ge=2, le=20)
    days_before: int = Field(default=3, ge=0, le=30)
    min_interval_days: int = Field(default=7, ge=1, le=365)
    max_interval_days: int = Field(default=120, ge=1, le=365)

    @model_validator(mode="after")
    def _bounds(self) -> ReplenishTrigger:
        if self.min_interval_days > self.max_interval_days:
            raise ValueError("min_interval_days is above max_interval_days")
        if self.days_before >= self.min_interval_days:
            raise ValueError("days_before must be shorter than the shortest interval")
        return self


Trigger = Annotated[
    EventTrigger | DateTrigger | DailyTrigger | ReachTrigger | ReplenishTrigger,
    Field(discriminator="type"),
]

#: Triggers the daily job enters customers by (one way through a flow at a time).
CALENDAR_TRIGGERS = (DateTrigger, DailyTrigger, ReachTrigger, ReplenishTrigger)


class _Step(_Model):
    key: str

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        if not KEY.match(key):
            raise ValueError("use 1 to 40 lower-case letters, digits, '_' or '-'")
        return key


class SendStep(_Step):
    """Queue a message from ``template`` on ``channel`` (``fallback`` when the customer
    cannot be reached there: no address, no consent, suppressed)."""

    type: Literal["send"] = "send"
    channel: Literal["email", "sms", "whatsapp"] = "email"
    fallback: Literal["email", "sms", "whatsapp"] | None = None
    template: str
    #: Put a feedback survey link (``survey_url``) for this touchpoint in the message.
    survey: Literal["delivery", "visit", "complaint", "relationship"] | None = None
    #: Make sure the member has a referral code, so ``referral_link`` is in the message.
    referral: bool = False
    #: Put up to this many products that go with what they bought in the message
    #: (``recommendations``: ``name``, ``price``; from the analytics recommendations).
    recommend: int = Field(default=0, ge=0, le=6)

    @model_validator(mode="after")
    def _distinct(self) -> SendStep:
        if self.fallback == self.channel:
            raise ValueError("the fallback channel must differ from the channel")
        return self


class WaitStep(_Step):
    """Wait ``days``/``hours``/``minutes``; with ``at`` (``HH:MM``), then until that
    local time of the customer (their timezone, else the business's; the same day if it
    is still ahead, else the next).
    ``until="order_promised"``: until the order's promised time instead (the duration
    when the order has none)."""

    type: Literal["wait"] = "wait"
    until: Literal["order_promised"] | None = None
    days: int = Field(default=0, ge=0, le=400)
    hours: int = Field(default=0, ge=0, le=23 * 400)
    minutes: int = Field(default=0, ge=0, le=59 * 400)
    at: str | None = None

    @field_validator("at")
    @classmethod
    def _clock(cls, at: str | None) -> str | None:
        if at is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at):
            raise ValueError("a local time as HH:MM (00:00 to 23:59)")
        return at

    @model_validator(mode="after")
    def _something(self) -> WaitStep:
        if not (self.days or self.hours or self.minutes or self.at):
            raise ValueError("wait a duration, until a local time, or both")
        return self


class BranchStep(_Step):
    """Test ``condition``: true goes to ``then``, false to ``otherwise`` (a step key or
    ``exit``; ``None``: the next step)."""

    type: Literal["branch"] = "branch"
    condition: Literal["ordered_since_entry", "order_delivered", "order_not_delivered"]
    then: str | None = None
    otherwise: str | None = None


class CouponStep(_Step):
    """Issue the customer a one-use coupon through the loyalty service (put in the next
    messages' context as ``coupon.code``)."""

    type: Literal["coupon"] = "coupon"
    name: str = Field(min_length=1, max_length=200)
    percent: int | None = Field(default=None, ge=1, le=100)
    amount: int | None = Field(default=None, ge=1)
    valid_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _one(self) -> CouponStep:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give either percent or amount")
        return self


class PointsStep(_Step):
    """Credit the customer ``points`` through the loyalty service."""

    type: Literal["points"] = "points"
    points: int = Field(ge=1, le=1_000_000)
    reason: str = Field(min_length=1, max_length=200)


Step = Annotated[
    SendStep | WaitStep | BranchStep | CouponStep | PointsStep, Field(discriminator="type")
]


class Exit(_Model):
    """When a customer leaves the flow early: ``on_order`` (a new sale after they entered)."""

    on_order: bool = False


class Definition(_Model):
    """A whole flow (see the module docstring)."""

    trigger: Trigger
    filters: dict[str, Any] = Field(default_factory=lambda: {"all": []})
    steps: list[Step] = Field(min_length=1, max_length=30)
    exit: Exit = Field(default_factory=Exit)
    cooldown_days: int = Field(default=0, ge=0, le=3650)

    @field_validator("filters")
    @classmethod
    def _rules(cls, rules: dict[str, Any]) -> dict[str, Any]:
        return Rules.model_validate(rules).as_json()

    @model_validator(mode="after")
    def _targets(self) -> Definition:
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ValueError("two steps with one key")
        for i, step in enumerate(self.steps):
            if isinstance(step, BranchStep):
                for target in (step.then, step.otherwise):
                    if target is None or target == EXIT:
                        continue
                    if target not in keys:
                        raise ValueError(f"step {step.key}: no step {target!r} to go to")
                    # Forward only: every step runs at most once per enrolment, and a
                    # flow always ends.
                    if keys.index(target) <= i:
                        raise ValueError(f"step {step.key}: a branch goes to a later step")
        return self

    def index(self, key: str | None) -> int | None:
        """The position of step ``key`` (``None``: it is no longer in the flow)."""
        for i, step in enumerate(self.steps):
            if step.key == key:
                return i
        return None

    def templates(self) -> list[str]:
        """The template keys the send steps use, in order."""
        return [s.template for s in self.steps if isinstance(s, SendStep)]
