"""What the format descriptions (wafa.ingest) change for the importer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.orders.importing.helpers import SHOPIFY_LINES, table_counts, variant
from wafa.core.settings import Settings
from wafa.orders.importing.errors import ImportRejected
from wafa.orders.importing.pipeline import import_orders
from wafa.orders.models import Order, OrderLine
from wafa.orders.sales import is_sale


def orders_of(session: Session, source: str) -> dict[str, Order]:
    return {o.external_id: o for o in session.scalars(select(Order).where(Order.source == source))}


class TestShopifyVoided:
    def test_a_voided_payment_without_a_cancel_date_is_no_sale(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # #1005 is voided; without its cancel date it used to be stored as placed: a sale.
        path = variant(tmp_path, {(8, "Cancelled at"): ""})
        import_orders(session, path, fmt="shopify", settings=settings)
        voided = orders_of(session, "shopify")["#1005"]
        assert voided.status == "cancelled"
        assert voided.cancelled_at == voided.placed_at
        assert not is_sale(voided.status, voided.total_amount, voided.refunded_amount)
        assert voided.attributes["financial_status"] == "voided"


class TestLaterRows:
    def test_a_later_row_that_contradicts_the_first_is_refused(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # Record 2 is the second row of #1001, whose first row says 12.50.
        path = variant(tmp_path, {(2, "Total"): "99.00"})
        before = table_counts(session)
        with pytest.raises(ImportRejected) as caught:
            import_orders(session, path, fmt="shopify", settings=settings)
        assert table_counts(session) == before
        [error] = caught.value.row_errors
        assert (error.line, error.column) == (SHOPIFY_LINES[2], "Total")
        assert "'99.00' differs from '12.50' on line 2" in error.reason

    def test_a_later_row_may_repeat_the_first(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(2, "Total"): "12.50", (2, "Currency"): "USD"})
        report = import_orders(session, path, fmt="shopify", settings=settings)
        assert report.stats.orders_created == 6

    def test_a_cell_blank_on_the_first_row_is_taken_from_a_later_one(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = variant(tmp_path, {(1, "Total"): "", (2, "Total"): "12.50"})
        import_orders(session, path, fmt="shopify", settings=settings)
        assert orders_of(session, "shopify")["#1001"].total_amount == 1250


WOO_ITEM_ROWS = (
    "order_id,order_date,status,order_total,refunded_total,order_currency,customer_id,"
    "billing_email,item_name,item_sku,item_quantity,item_subtotal,item_total\n"
    "101,2025-01-05 14:22:01,wc-completed,40.00,0,USD,7,x@example.com,Tea,A,1,10.00,10.00\n"
    "101,2025-01-05 14:22:01,wc-completed,40.00,0,USD,7,x@example.com,Cup,B,3,30.00,30.00\n"
    "102,2025-01-06 10:00:00,processing,15.00,5.00,USD,0,guest@example.com,Tea,A,1,15.00,15.00\n"
    "103,2025-01-07 10:00:00,refunded,15.00,,USD,7,x@example.com,Tea,A,1,15.00,15.00\n"
)


class TestWooCommerceItemRows:
    def test_one_row_per_item_with_a_refunded_total(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        path = tmp_path / "woo.csv"
        path.write_text(WOO_ITEM_ROWS, encoding="utf-8")
        import_orders(session, path, fmt="woocommerce", settings=settings)
        orders = orders_of(session, "woocommerce")
        assert {k: (o.status, o.total_amount, o.refunded_amount) for k, o in orders.items()} == {
            "101": ("fulfilled", 4000, 0),
            "102": ("partially_refunded", 1500, 500),
            "103": ("refunded", 1500, 1500),
        }
        skus = session.scalars(
            select(OrderLine.sku).where(OrderLine.order_id == orders["101"].id)
        ).all()
        assert sorted(s or "" for s in skus) == ["A", "B"]
        assert orders["102"].customer_id is not None


class TestGenericStatusWords:
    @pytest.mark.parametrize(
        ("word", "status"),
        [("canceled", "cancelled"), ("voided", "cancelled"), ("completed", "fulfilled")],
    )
    def test_other_spellings_mean_what_they_say(
        self, session: Session, settings: Settings, tmp_path: Path, word: str, status: str
    ) -> None:
        path = tmp_path / "orders.csv"
        path.write_text(
            f"order_id,placed_at,name,quantity,unit_price,status\n1,2025-01-05,Tea,1,3.00,{word}\n",
            encoding="utf-8",
        )
        import_orders(session, path, fmt="generic", settings=settings)
        assert orders_of(session, "generic")["1"].status == status
