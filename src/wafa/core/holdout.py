"""Did those who got something do better than a random holdout that got nothing?

Campaigns, flows and bounce-back offers draw a holdout at random and compare it with
the others: each member of either group has a count ``n`` (orders) and a sum ``rev``
(revenue, minor units) in its window. ``holdout_groups`` sums them per group in one
grouped query (sizes, buyers, orders, revenue and the sums of squares); ``compare``
gives the difference of the means with a 95 % interval from the normal approximation,
with Welch's standard error ``sqrt(s²_1/n_1 + s²_2/n_2)`` (sample variances; no
equal-variance assumption). With fewer than two members in a group there is no interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

__all__ = [
    "METHOD",
    "Z95",
    "Comparison",
    "Effects",
    "Group",
    "compare",
    "effects",
    "holdout_groups",
]

Z95 = 1.959963984540054
METHOD = (
    "Difference of means, recipients minus holdout (intention to treat), with a 95 % "
    "normal-approximation interval and Welch's standard error."
)


@dataclass(frozen=True)
class Comparison:
    """One measure per customer: its mean among recipients and in the holdout."""

    recipients: float
    holdout: float | None
    difference: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Group:
    customers: int
    buyers: int
    orders: int
    revenue: int  # minor units
    sum_sq_orders: float
    sum_sq_revenue: float


def compare(n1: int, sum1: float, sq1: float, n2: int, sum2: float, sq2: float) -> Comparison:
    """Means of two groups from their sizes, sums and sums of squares, and the Welch
    normal-approximation 95 % interval of their difference (group 1 − group 2)."""
    mean1 = sum1 / n1 if n1 else 0.0
    if n2 == 0:
        return Comparison(mean1, None, None, None, None)
    mean2 = sum2 / n2
    diff = mean1 - mean2
    if n1 < 2 or n2 < 2:
        return Comparison(mean1, mean2, diff, None, None)
    var1 = max(sq1 - n1 * mean1 * mean1, 0.0) / (n1 - 1)
    var2 = max(sq2 - n2 * mean2 * mean2, 0.0) / (n2 - 1)
    se = math.sqrt(var1 / n1 + var2 / n2)
    return Comparison(mean1, mean2, diff, diff - Z95 * se, diff + Z95 * se)


@dataclass(frozen=True)
class Effects:
    conversion: Comparison
    orders: Comparison
    revenue: Comparison


def effects(chosen: Group, held: Group) -> Effects:
    """The three comparisons of a recipients group against its holdout: the share who
    bought (``conversion``), ``orders`` and ``revenue`` per customer."""
    return Effects(
        conversion=compare(
            chosen.customers, chosen.buyers, chosen.buyers, held.customers, held.buyers, held.buyers
        ),
        orders=compare(
            chosen.customers,
            chosen.orders,
            chosen.sum_sq_orders,
            held.customers,
            held.orders,
            held.sum_sq_orders,
        ),
        revenue=compare(
            chosen.customers,
            chosen.revenue,
            chosen.sum_sq_revenue,
            held.customers,
            held.revenue,
            held.sum_sq_revenue,
        ),
    )


def holdout_groups(session: Session, per_member: Subquery) -> dict[bool, Group]:
    """Sum ``per_member`` (columns ``holdout``, ``n`` orders, ``rev`` revenue) per group.

    One grouped query gives each group's size, buyers, orders, revenue and the sums of
    squares the interval needs; ``True`` is the held-out group. Campaigns and flows
    measure their lift with it.
    """
    n, rev = per_member.c.n, per_member.c.rev
    rows = session.execute(
        select(
            per_member.c.holdout,
            func.count(),
            func.count().filter(n > 0),
            func.coalesce(func.sum(n), 0),
            func.coalesce(func.sum(rev), 0),
            func.coalesce(func.sum(cast(n, Float) * cast(n, Float)), 0.0),
            func.coalesce(func.sum(cast(rev, Float) * cast(rev, Float)), 0.0),
        ).group_by(per_member.c.holdout)
    )
    found = {
        bool(flag): Group(int(c), int(b), int(o), int(r), float(sq_o), float(sq_r))
        for flag, c, b, o, r, sq_o, sq_r in rows
    }
    empty = Group(0, 0, 0, 0, 0.0, 0.0)
    return {True: found.get(True, empty), False: found.get(False, empty)}
