"""What a sale is: the one rule every reader of orders imports.

An order is a **sale** unless it is cancelled, or refunded in full: its status is
``cancelled`` or ``refunded``, or its refunds reach its total (a refund of more than
nothing that covers the whole order). A partial refund leaves it a sale worth its total
less the refunds; an order of zero value that was never refunded is a sale (a free
sample still brings the customer in, and the papers' data count it).

Loyalty accrual, the dashboard's figures, the customer list and profile, the analytics
summary and the recommendations read stored orders through ``is_sale`` (Python) or
``sale_condition`` (SQL, on both databases). ``wafa analyze`` reads export files: it
classifies each order's status words with the shop format's vocabulary
(``wafa.ingest``) into these same statuses and applies ``sale_sql`` to them, so an
order is a sale to the analyzer exactly when it is one once imported.

**Purchase days and repeat customers.** Sales by one customer on one calendar day of the
business's timezone are one *purchase day* (a basket split in two, or a coffee and a
cake paid apart, is one visit). A **repeat customer** bought on at least two different
days; the **repeat rate** is repeat customers over customers who bought at all, in the
business's currency. The overview (``orders.queries.overview``) counts it with
``repeat_customers_query``; the analytics summary groups orders into the same purchase
days with ``local_day_expression``, so both pages show one figure for the same orders.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import type_coerce

from wafa.orders.models import Order, OrderStatus

__all__ = [
    "NOT_A_SALE",
    "is_sale",
    "local_day_expression",
    "repeat_customers_query",
    "sale_condition",
    "sale_sql",
    "sold",
]

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

#: Statuses that make an order no sale, whatever its amounts.
NOT_A_SALE: frozenset[str] = frozenset({OrderStatus.cancelled.value, OrderStatus.refunded.value})


def is_sale(status: str, total: int, refunded: int) -> bool:
    """Whether an order with this status, total and refunded amount (minor units) is a sale."""
    return status not in NOT_A_SALE and not (refunded > 0 and refunded >= total)


def sale_condition(status: Any, total: Any, refunded: Any) -> ColumnElement[bool]:
    """``is_sale`` as a SQL condition on three columns (or expressions)."""
    return and_(
        status.not_in(sorted(NOT_A_SALE)),
        or_(refunded <= 0, refunded < total),
    )


def sold() -> ColumnElement[bool]:
    """``is_sale`` on the ``orders`` table: the ``WHERE`` of every query over sales."""
    return sale_condition(Order.status, Order.total_amount, Order.refunded_amount)


def sale_sql(status: str, total: str, refunded: str) -> str:
    """``is_sale`` as SQL text over three SQL expressions, for DuckDB (``wafa analyze``).

    The text is ``sale_condition`` compiled with its word list inline; it is plain SQL
    that DuckDB, SQLite and PostgreSQL read alike.
    """
    condition = sale_condition(
        literal_column(f"({status})"), literal_column(f"({total})"), literal_column(f"({refunded})")
    )
    compiled = condition.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
    return f"({compiled})"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _sqlite_local_day(zone_name: str) -> Any:
    zone = _zone(zone_name)
    utc = dt.UTC

    def local_day(value: str | None) -> int | None:
        if value is None:
            return None
        instant = dt.datetime.fromisoformat(value).replace(tzinfo=utc)
        return instant.astimezone(zone).date().toordinal() - _EPOCH_ORDINAL

    return local_day


def _column_sql(session: Session, column: Any) -> str:
    return str(column.compile(dialect=session.get_bind().dialect))


def local_day_expression(session: Session, column: Any, zone: str) -> ColumnElement[int]:
    """Build SQL for the local calendar day (days since 1970-01-01) of a UTC instant column.

    PostgreSQL converts with ``AT TIME ZONE``; SQLite, which has no time zones, gets a
    deterministic ``wafa_local_day`` function registered on the session's connection
    (plain arithmetic when the zone is UTC).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        The session whose connection will run the statement.
    column : sqlalchemy column
        A ``UtcDateTime`` column.
    zone : str
        IANA timezone of the business.

    Returns
    -------
    sqlalchemy.sql.elements.ColumnElement
        An integer expression.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Inlined, not bound: PostgreSQL matches GROUP BY expressions textually, and two
        # bind parameters for the zone would make the SELECT and GROUP BY differ.
        zone_literal = "'" + zone.replace("'", "''") + "'"
        return type_coerce(
            literal_column(
                f"(CAST(({_column_sql(session, column)} AT TIME ZONE {zone_literal}) AS DATE)"
                " - DATE '1970-01-01')"
            ),
            Integer,
        )
    if zone in ("UTC", "Etc/UTC"):
        return type_coerce(
            literal_column(
                f"CAST(julianday({_column_sql(session, column)}) - 2440587.5 AS INTEGER)"
            ),
            Integer,
        )
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    dbapi.create_function("wafa_local_day", 1, _sqlite_local_day(zone), deterministic=True)
    return type_coerce(func.wafa_local_day(column), Integer)


def repeat_customers_query(session: Session, *, zone: str, currency: str) -> Select[int, int]:
    """(customers who bought on two or more days, customers who bought), all time.

    The repeat rule of this module's docstring: sales in ``currency`` with a customer,
    counted in purchase days of the business's timezone ``zone``.
    """
    day = local_day_expression(session, Order.placed_at, zone)
    per_customer = (
        select(Order.customer_id, func.count(func.distinct(day)).label("days"))
        .where(Order.customer_id.is_not(None), Order.currency == currency, sold())
        .group_by(Order.customer_id)
        .subquery()
    )
    return select(
        func.coalesce(func.sum(case((per_customer.c.days >= 2, 1), else_=0)), 0),
        func.count(literal(1)),
    ).select_from(per_customer)
