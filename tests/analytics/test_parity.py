"""One file, two readers: what ``wafa analyze`` counts is what ``wafa import`` stores.

Each test imports an export into the database and reads the same file with the
analyzer: every order the analyzer reads is a purchase exactly when the stored order is
a sale (``orders.sales``), and its value after refunds is the stored one. Run on both
databases like the rest of the suite.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.analytics.helpers import write_csv
from tests.orders.importing.helpers import DATA, SHOPIFY, variant
from wafa.analytics.reading import BadInput, InputFormat, load_orders
from wafa.core.settings import Settings
from wafa.orders.importing.errors import ImportRejected
from wafa.orders.importing.pipeline import import_orders
from wafa.orders.models import Order
from wafa.orders.sales import is_sale

#: Per order: (stored sale, value), (analysed purchase, value).
Pair = tuple[tuple[bool, int], tuple[bool, int]]

GENERIC_HEADER = [
    "order_id",
    "placed_at",
    "customer_email",
    "name",
    "quantity",
    "unit_price",
    "total",
    "status",
    "refunded_amount",
]


def both(session: Session, settings: Settings, path: Path, fmt: str) -> dict[str, Pair]:
    """Import ``path`` and analyse it; per order: (stored sale, value), (purchase, value).

    The value is what the order brought after refunds, counted for sales only.
    """
    import_orders(session, path, fmt=fmt, settings=settings)
    stored = {
        o.external_id: o
        for o in session.scalars(select(Order).where(Order.source == fmt))
        if o.external_id is not None
    }
    con = duckdb.connect()
    load_orders(
        con,
        path,
        fmt=InputFormat(fmt),
        timezone=settings.timezone,
        default_currency=settings.currency,
    )
    read = con.execute("SELECT order_id, purchase, net FROM wafa_orders").fetchall()
    assert read, "the analyzer read no order"
    pairs: dict[str, Pair] = {}
    for order_id, purchase, net in read:
        order = stored[order_id]
        sale = is_sale(order.status, order.total_amount, order.refunded_amount)
        stored_net = order.total_amount - order.refunded_amount if sale else 0
        pairs[order_id] = ((sale, stored_net), (bool(purchase), int(net) if purchase else 0))
    return pairs


def assert_same(pairs: dict[str, Pair]) -> None:
    differ = {k: v for k, v in pairs.items() if v[0] != v[1]}
    assert not differ, f"(stored sale, net) != (analysed purchase, net): {differ}"


class TestShopify:
    def test_the_fixture_export(self, session: Session, settings: Settings) -> None:
        assert_same(both(session, settings, SHOPIFY, "shopify"))

    def test_a_voided_payment_without_a_cancel_date_is_no_sale_to_either(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # #1005 is voided; without its cancel date the analyzer used to count it.
        path = variant(tmp_path, {(8, "Cancelled at"): ""})
        pairs = both(session, settings, path, "shopify")
        assert pairs["#1005"] == ((False, 0), (False, 0))
        assert_same(pairs)

    def test_refunded_without_an_amount_is_refunded_in_full_by_both(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(1, "Financial Status"): "refunded"})
        assert_same(both(session, settings, path, "shopify"))

    def test_a_status_word_the_importer_refuses_is_refused_by_the_analyzer(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(1, "Financial Status"): "settled"})
        with pytest.raises(ImportRejected):
            import_orders(session, path, fmt="shopify", settings=settings)
        with pytest.raises(BadInput, match=r"column Financial Status: unknown status 'settled'"):
            load_orders(duckdb.connect(), path, fmt=InputFormat.shopify)


class TestWooCommerce:
    def test_the_fixture_export(self, session: Session, settings: Settings) -> None:
        assert_same(both(session, settings, DATA / "woocommerce_orders.csv", "woocommerce"))


class TestGeneric:
    def test_statuses_and_refunds(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        rows = [
            ("G1", "2025-03-01 10:00", "a@x.com", "Tea", "1", "10.00", "10.00", "", ""),
            ("G2", "2025-03-02 10:00", "a@x.com", "Tea", "1", "10.00", "10.00", "voided", ""),
            ("G3", "2025-03-03 10:00", "b@x.com", "Tea", "1", "10.00", "10.00", "refunded", ""),
            # "Refunded" with an amount short of the total: a partial refund to both.
            ("G4", "2025-03-04 10:00", "b@x.com", "Tea", "1", "10.00", "10.00", "refunded", "4"),
            (
                "G5",
                "2025-03-05 10:00",
                "c@x.com",
                "Tea",
                "1",
                "10.00",
                "10.00",
                "partially_refunded",
                "2.50",
            ),
            ("G6", "2025-03-06 10:00", "c@x.com", "Tea", "1", "10.00", "10.00", "Completed", "10"),
            ("G7", "2025-03-07 10:00", "c@x.com", "Tea", "1", "0.00", "0.00", "refunded", ""),
        ]
        path = write_csv(tmp_path / "generic.csv", GENERIC_HEADER, rows)
        pairs = both(session, settings, path, "generic")
        assert pairs["G4"][1] == (True, 600)
        assert pairs["G2"][1][0] is False
        assert_same(pairs)

    def test_partially_refunded_without_an_amount_is_refused_by_both(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        rows = [
            ("G1", "2025-03-01", "a@x.com", "Tea", "1", "10.00", "10.00", "partially_refunded", "")
        ]
        path = write_csv(tmp_path / "generic.csv", GENERIC_HEADER, rows)
        with pytest.raises(ImportRejected):
            import_orders(session, path, fmt="generic", settings=settings)
        with pytest.raises(BadInput, match="line 2, column status: the status says partially"):
            load_orders(duckdb.connect(), path)
