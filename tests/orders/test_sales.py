from __future__ import annotations

import itertools

import duckdb
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import create_order
from wafa.orders.models import Order, OrderStatus
from wafa.orders.sales import is_sale, sale_sql, sold

# (status, total, refunded) with refunded within the total, as the database allows.
CASES = [
    (status, total, refunded)
    for status, (total, refunded) in itertools.product(
        [s.value for s in OrderStatus], [(900, 0), (900, 300), (900, 900), (0, 0)]
    )
]


class TestIsSale:
    @pytest.mark.parametrize(
        ("status", "total", "refunded", "sale"),
        [
            ("placed", 900, 0, True),
            ("paid", 900, 300, True),  # a partial refund lowers the value
            ("fulfilled", 0, 0, True),  # a free order never refunded
            ("cancelled", 900, 0, False),
            ("refunded", 900, 900, False),
            ("partially_refunded", 900, 900, False),  # refunds reach the total
            ("paid", 900, 1000, False),
        ],
    )
    def test_cancelled_or_refunded_in_full_is_no_sale(
        self, status: str, total: int, refunded: int, sale: bool
    ) -> None:
        assert is_sale(status, total, refunded) is sale


class TestSaleConditionInSql:
    def test_the_database_agrees_with_is_sale(self, session: Session) -> None:
        ids = {}
        for case in CASES:
            order = create_order(session)
            status, total, refunded = case
            session.execute(
                update(Order)
                .where(Order.id == order.id)
                .values(status=status, total_amount=total, refunded_amount=refunded)
            )
            ids[order.id] = case
        session.expire_all()
        found = set(session.scalars(select(Order.id).where(Order.id.in_(list(ids)), sold())))
        assert {i for i, case in ids.items() if is_sale(*case)} == found
        assert 0 < len(found) < len(ids)

    def test_duckdb_agrees_with_is_sale(self) -> None:
        con = duckdb.connect()
        con.execute("CREATE TABLE o (status VARCHAR, total BIGINT, refunded BIGINT)")
        con.executemany("INSERT INTO o VALUES (?, ?, ?)", CASES)
        rows = con.execute(
            f"SELECT status, total, refunded, {sale_sql('status', 'total', 'refunded')} FROM o"
        ).fetchall()
        assert [(s, t, r, is_sale(s, t, r)) for s, t, r, _ in rows] == rows
