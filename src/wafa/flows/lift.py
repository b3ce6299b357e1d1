"""Does a flow earn its place? Orders and revenue of those who entered it, recipients
against the holdout.

Every entrant of a marketing flow is drawn into the holdout (``holdout_percent``, stable
per flow and customer) or not when they enter; the holdout walks the same steps and is
sent and given nothing. For each enrolment whose window is over (entered at least
``conversion_days`` ago) the report counts the sales (``wafa.orders.sales``: not
cancelled, not refunded in full, in the business currency) the customer placed after
entering and within the window, net of refunds. The two groups were drawn at random
from the same entrants, so the difference of their means is the flow's effect, read as
intention to treat (a recipient whose message a cap held still counts as a recipient).

Method: messaging's campaign report's (``compare``): difference of means with a 95 %
normal-approximation interval and Welch's standard error, the sums and sums of squares
computed by the database in one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from wafa.core.db import dialect_name
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.flows.models import Enrolment, Flow
from wafa.messaging.campaigns.report import METHOD, Comparison, Group, effects, holdout_groups
from wafa.orders.models import Order
from wafa.orders.sales import sold

__all__ = ["Lift", "flow_lift"]


@dataclass(frozen=True)
class Lift:
    """A flow's lift: matured entrants per group, and the comparisons."""

    flow_key: str
    days: int
    currency: str
    pending: int  # entrants whose window is still open (not counted yet)
    recipients: Group
    holdout: Group
    conversion: Comparison
    orders: Comparison
    revenue: Comparison
    method: str = METHOD


def _groups(
    session: Session, flow: Flow, days: int, currency: str, until: datetime
) -> dict[bool, Group]:
    if dialect_name(session) == "postgresql":
        within = Order.placed_at <= Enrolment.entered_at + func.make_interval(0, 0, 0, days)
    else:  # SQLite keeps instants as text that julianday() reads
        within = func.julianday(Order.placed_at) <= func.julianday(Enrolment.entered_at) + days
    per_enrolment = (
        select(
            Enrolment.id.label("id"),
            Enrolment.holdout.label("holdout"),
            func.count(Order.id).label("n"),
            func.coalesce(func.sum(Order.total_amount - Order.refunded_amount), 0).label("rev"),
        )
        .select_from(Enrolment)
        .outerjoin(
            Order,
            and_(
                Order.customer_id == Enrolment.customer_id,
                Order.placed_at > Enrolment.entered_at,
                within,
                Order.currency == currency,
                sold(),
            ),
        )
        .where(Enrolment.flow_id == flow.id, Enrolment.entered_at <= until)
        .group_by(Enrolment.id, Enrolment.holdout)
        .subquery()
    )
    return holdout_groups(session, per_enrolment)


def flow_lift(session: Session, *, settings: Settings, flow: Flow, days: int | None = None) -> Lift:
    """The flow's lift over ``days`` (default: the flow's ``conversion_days``)."""
    days = days or flow.conversion_days
    until = utcnow() - timedelta(days=days)
    groups = _groups(session, flow, days, settings.currency, until)
    pending = session.scalar(
        select(func.count()).where(Enrolment.flow_id == flow.id, Enrolment.entered_at > until)
    )
    chosen, held = groups[False], groups[True]
    found = effects(chosen, held)
    return Lift(
        flow_key=flow.key,
        days=days,
        currency=settings.currency,
        pending=int(pending or 0),
        recipients=chosen,
        holdout=held,
        conversion=found.conversion,
        orders=found.orders,
        revenue=found.revenue,
    )
