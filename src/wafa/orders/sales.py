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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, literal_column, or_
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from wafa.orders.models import Order, OrderStatus

__all__ = ["NOT_A_SALE", "is_sale", "sale_condition", "sale_sql", "sold"]

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
