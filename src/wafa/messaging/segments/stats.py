"""The per-customer order figures segments count on, kept from the orders.

Counting a segment such as "ordered 3 times or more, not in the last 90 days" on a
store of a million customers and five million orders must not group every order each
time: that alone takes seconds. :class:`~.models.CustomerOrderStats` keeps, per
customer, the number of sales, net spend, first and last sale, and the compiler reads
that row.

Two writers keep it equal to what a ``GROUP BY`` over the orders would say:

* :func:`refresh_customers`, run by the outbox consumer (:mod:`.handlers`) for the
  customers an order or customer event names, recomputes their rows from their orders
  (through the ``(customer_id, placed_at)`` index);
* :func:`rebuild`, run daily by the worker and by ``wafa messaging segments
  rebuild-stats``, recomputes every row and repairs what no event announced (a guest
  order attached to a customer at the counter, for one).

Both are recomputations, not increments, so running one twice, or an event handled
again, changes nothing. On PostgreSQL two workers may refresh one customer at once:
each takes a transaction-scoped advisory lock per customer before reading, so the
later one reads the earlier one's committed orders and its row is the one that stays;
a rebuild takes the lock that every refresh shares, exclusively. SQLite has a single
writer and needs neither.

What a sale is belongs to ``wafa.orders``; :func:`is_sale` is the one place this
module asks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    case,
    delete,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from wafa.core.db import dialect_name, rowcount
from wafa.core.time import utcnow
from wafa.messaging.segments.models import CustomerOrderStats, StatsBuild
from wafa.orders.models import Location, Order, OrderLine
from wafa.orders.queries import NET_AMOUNT
from wafa.orders.sales import sale_condition

_STATS = cast(Table, CustomerOrderStats.__table__)
_COLUMNS = (
    "customer_id",
    "orders_count",
    "spent_amount",
    "currency",
    "first_order_at",
    "last_order_at",
    "channels",
    "locations",
    "products",
    "categories",
    "refreshed_at",
)
_FIGURES = _COLUMNS[1:-1]
# Advisory lock keys (PostgreSQL): one shared by every refresh and taken alone by a
# rebuild; per-customer keys are derived from the customer id.
_REBUILD_LOCK = 0x5E6_0001


def is_sale(order: type[Order] | Any = Order) -> ColumnElement[bool]:
    """Whether an order counts as a sale: the orders domain's rule, asked in one place."""
    return sale_condition(order.status, order.total_amount, order.refunded_amount)


def _distinct_list(dialect: str, column: Any) -> ColumnElement[Any]:
    """The distinct non-null values of ``column`` in a group, as a JSON list."""
    if dialect == "postgresql":
        return func.coalesce(
            func.jsonb_agg(distinct(column)).filter(column.is_not(None)),
            sql_cast(literal("[]"), JSONB),
        )
    return func.json_group_array(distinct(column)).filter(column.is_not(None))


def stats_query(
    currency: str, customer_ids: Iterable[uuid.UUID] | None = None, *, dialect: str
) -> Select[Any]:
    """Per customer with a sale, the row of :class:`CustomerOrderStats` (in its column order).

    Orders are grouped once for the counts, spend, dates, channels and locations, and
    their lines once for the SKUs and categories (a line refunded in full was not
    bought); the two meet on the customer.
    """
    ids = list(customer_ids) if customer_ids is not None else None

    def scoped(stmt: Select[Any]) -> Select[Any]:
        stmt = stmt.where(Order.customer_id.is_not(None), is_sale())
        return stmt.where(Order.customer_id.in_(ids)) if ids is not None else stmt

    per_order = (
        scoped(
            select(
                Order.customer_id.label("customer_id"),
                func.count(Order.id).label("orders_count"),
                func.coalesce(
                    func.sum(case((Order.currency == currency, NET_AMOUNT), else_=0)), 0
                ).label("spent_amount"),
                func.min(Order.placed_at).label("first_order_at"),
                func.max(Order.placed_at).label("last_order_at"),
                _distinct_list(dialect, Order.channel).label("channels"),
                _distinct_list(dialect, Location.code).label("locations"),
            )
            .select_from(Order)
            .outerjoin(Location, Location.id == Order.location_id)
        )
        .group_by(Order.customer_id)
        .subquery("per_order")
    )
    per_line = (
        scoped(
            select(
                Order.customer_id.label("customer_id"),
                _distinct_list(dialect, OrderLine.sku).label("products"),
                _distinct_list(dialect, OrderLine.category).label("categories"),
            )
            .select_from(OrderLine)
            .join(Order, Order.id == OrderLine.order_id)
            .where(OrderLine.refunded_quantity < OrderLine.quantity)
        )
        .group_by(Order.customer_id)
        .subquery("per_line")
    )
    empty: Any = sql_cast(literal("[]"), JSONB) if dialect == "postgresql" else literal("[]")
    o, ln = per_order.c, per_line.c
    return select(
        o.customer_id,
        o.orders_count,
        o.spent_amount,
        literal(currency),
        o.first_order_at,
        o.last_order_at,
        o.channels,
        o.locations,
        func.coalesce(ln.products, empty),
        func.coalesce(ln.categories, empty),
        literal(utcnow(), CustomerOrderStats.refreshed_at.type),
    ).select_from(per_order.outerjoin(per_line, ln.customer_id == o.customer_id))


def _upsert(session: Session, source: Select[Any], *, only_changed: bool) -> Insert:
    if dialect_name(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(_STATS).from_select(list(_COLUMNS), source)
        changed = _changed(_STATS, pg.excluded) if only_changed else None
        return pg.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={c: pg.excluded[c] for c in _COLUMNS[1:]},
            where=changed,
        )
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    lite = sqlite_insert(_STATS).from_select(list(_COLUMNS), source)
    changed = _changed(_STATS, lite.excluded) if only_changed else None
    return lite.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={c: lite.excluded[c] for c in _COLUMNS[1:]},
        where=changed,
    )


def _changed(table: Table, new: Any) -> ColumnElement[bool]:
    """Whether an upsert would change the figures (a rebuild leaves equal rows alone)."""
    return or_(*(table.c[c] != new[c] for c in _FIGURES))


def _lock_key(customer_id: uuid.UUID) -> int:
    """A signed 64-bit advisory lock key for one customer (collisions only serialise)."""
    value = customer_id.int & 0x7FFF_FFFF_FFFF_FFFF
    return value if value != _REBUILD_LOCK else value + 1


def _lock_customers(session: Session, ids: list[uuid.UUID]) -> None:
    if dialect_name(session) != "postgresql":
        return  # SQLite: write transactions are serialised already (BEGIN IMMEDIATE)
    session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _REBUILD_LOCK})
    # In key order, so that two workers locking overlapping sets cannot deadlock.
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
        ),
        {"keys": sorted({_lock_key(i) for i in ids})},
    )


def refresh_customers(session: Session, customer_ids: Iterable[uuid.UUID], *, currency: str) -> int:
    """Recompute the order figures of ``customer_ids`` from their orders; returns rows kept.

    A customer left without a sale (everything refunded or cancelled, orders moved
    away by a merge) loses their row.
    """
    ids = sorted({i for i in customer_ids if i is not None})
    if not ids:
        return 0
    _lock_customers(session, ids)
    kept = rowcount(
        session.execute(
            _upsert(
                session,
                stats_query(currency, ids, dialect=dialect_name(session)),
                only_changed=False,
            )
        )
    )
    session.execute(
        delete(CustomerOrderStats)
        .where(
            CustomerOrderStats.customer_id.in_(ids),
            ~exists().where(Order.customer_id == CustomerOrderStats.customer_id, is_sale()),
        )
        .execution_options(synchronize_session=False)
    )
    return kept


def rebuild(session: Session, *, currency: str) -> StatsBuild:
    """Recompute every customer's order figures from every order, in one transaction.

    Rows that are already right are not rewritten; rows of customers left without a
    sale are deleted. Counting goes on meanwhile (readers see the previous rows until
    this commits).
    """
    started = utcnow()
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _REBUILD_LOCK})
    source = stats_query(currency, dialect=dialect_name(session))
    session.execute(_upsert(session, source, only_changed=True))
    session.execute(
        delete(CustomerOrderStats)
        .where(~exists().where(Order.customer_id == CustomerOrderStats.customer_id, is_sale()))
        .execution_options(synchronize_session=False)
    )
    total = int(session.scalar(select(func.count()).select_from(CustomerOrderStats)) or 0)
    build = StatsBuild(started_at=started, finished_at=utcnow(), customers=total, currency=currency)
    session.add(build)
    session.flush()
    return build


def last_build(session: Session) -> StatsBuild | None:
    """The most recent full rebuild, if any."""
    return session.scalars(
        select(StatsBuild).order_by(StatsBuild.started_at.desc()).limit(1)
    ).first()


def drifted(session: Session, *, currency: str) -> int:
    """How many customers' rows differ from a fresh computation (0 when all is well).

    Used by ``wafa segment rebuild-stats --check`` and the tests.
    """
    fresh = stats_query(currency, dialect=dialect_name(session)).subquery()
    cols = list(fresh.c)
    s = CustomerOrderStats
    stored = [getattr(s, name) for name in _COLUMNS]
    differs = (
        select(func.count())
        .select_from(fresh.outerjoin(s, s.customer_id == cols[0]))
        .where(
            or_(
                s.customer_id.is_(None),
                *(
                    stored[i] != cols[i]
                    for i, name in enumerate(_COLUMNS)
                    if name in _FIGURES and name != "currency"
                ),
            )
        )
    )
    extra = (
        select(func.count())
        .select_from(s)
        .where(~exists().where(Order.customer_id == s.customer_id, is_sale()))
    )
    return int(session.scalar(differs) or 0) + int(session.scalar(extra) or 0)


def stats_age(session: Session) -> datetime | None:
    """When the figures were last rebuilt from every order (``None``: never)."""
    build = last_build(session)
    return build.finished_at if build else None


__all__ = [
    "drifted",
    "is_sale",
    "last_build",
    "rebuild",
    "refresh_customers",
    "stats_age",
    "stats_query",
]
