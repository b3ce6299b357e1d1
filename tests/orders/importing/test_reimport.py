"""A later export of orders already imported: new refunds and cancellations, nothing else."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.orders.importing.helpers import SHOPIFY, SHOPIFY_LINES, table_counts, variant
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.orders.events import OrderCancelled, OrderRefunded
from wafa.orders.importing.errors import ImportRejected
from wafa.orders.importing.pipeline import ImportReport, import_orders
from wafa.orders.models import Order, Refund

ORDER_CANCELLED = OrderCancelled.topic
ORDER_REFUNDED = OrderRefunded.topic

WOO = SHOPIFY.parent / "woocommerce_orders.csv"
# Record 2 of the WooCommerce fixture is order 502 (total 9.00, one refund of 4.50).
WOO_502 = 2


def run(
    session: Session, settings: Settings, path: Path = SHOPIFY, **options: object
) -> ImportReport:
    fmt = str(options.pop("fmt", "shopify"))
    return import_orders(session, path, fmt=fmt, settings=settings, **options)  # type: ignore[arg-type]


def order(session: Session, key: str, source: str = "shopify") -> Order:
    found = session.scalar(
        select(Order)
        .where(Order.source == source, Order.external_id == key)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


def refunds_of(session: Session, key: str, source: str = "shopify") -> list[tuple[str, int]]:
    return [
        (r.external_id, r.amount)
        for r in session.scalars(
            select(Refund)
            .where(Refund.order_id == order(session, key, source).id)
            .order_by(Refund.created_at, Refund.external_id)
        )
    ]


def events(session: Session, topic: str, key: str, source: str = "shopify") -> list[OutboxEvent]:
    return list(
        session.scalars(
            select(OutboxEvent)
            .where(
                OutboxEvent.topic == topic, OutboxEvent.subject_id == order(session, key, source).id
            )
            .order_by(OutboxEvent.id)
        )
    )


class TestLaterShopifyExport:
    def test_a_first_refund_is_recorded(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings)
        later = variant(
            tmp_path,
            {(9, "Financial Status"): "partially_refunded", (9, "Refunded Amount"): "4.50"},
        )
        report = run(session, settings, later)
        assert (report.stats.orders_created, report.stats.orders_present) == (0, 6)
        assert (report.stats.orders_updated, report.stats.refunds) == (1, 1)
        john = order(session, "#1006")
        assert (john.status, john.refunded_amount) == ("partially_refunded", 450)
        assert refunds_of(session, "#1006") == [("shopify-export-refund", 450)]
        (event,) = events(session, ORDER_REFUNDED, "#1006")
        assert event.payload["amount"] == 450 and event.payload["full"] is False
        assert event.payload["customer_id"] == str(john.customer_id)

    def test_a_higher_refunded_amount_adds_the_difference(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings)  # #1004: 3.50 of 17.50 refunded
        later = variant(
            tmp_path, {(5, "Financial Status"): "refunded", (5, "Refunded Amount"): "17.50"}
        )
        run(session, settings, later)
        sara = order(session, "#1004")
        assert (sara.status, sara.refunded_amount) == ("refunded", 1750)
        assert refunds_of(session, "#1004") == [
            ("shopify-export-refund", 350),
            ("shopify-export-refund-2", 1400),
        ]
        assert [
            (e.payload["amount"], e.payload["full"])
            for e in events(session, ORDER_REFUNDED, "#1004")
        ] == [(350, False), (1400, True)]

    def test_importing_the_later_export_again_changes_nothing(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings)
        later = variant(
            tmp_path,
            {
                (5, "Refunded Amount"): "10.00",
                (4, "Cancelled at"): "2025-10-13 09:00:00 +0000",
            },
        )
        run(session, settings, later)
        before = table_counts(session)
        report = run(session, settings, later)
        assert table_counts(session) == before
        assert (report.stats.orders_updated, report.stats.refunds) == (0, 0)
        assert report.stats.orders_present == 6

    def test_less_refunded_than_recorded_is_a_row_problem(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings)
        before = table_counts(session)
        earlier = variant(
            tmp_path,
            {(5, "Refunded Amount"): "2.00", (9, "Refunded Amount"): "1.00"},
        )
        with pytest.raises(ImportRejected) as caught:
            run(session, settings, earlier)
        assert table_counts(session) == before
        (error,) = caught.value.row_errors
        assert (error.line, error.column) == (SHOPIFY_LINES[5], "Refunded Amount")
        assert error.reason == (
            "2.00 USD refunded in the file is less than the 3.50 USD already recorded for "
            "order #1004; an import cannot take a refund back"
        )

    def test_skip_invalid_lists_the_problem_in_file_order_and_applies_the_rest(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings)
        later = variant(
            tmp_path,
            {
                (5, "Refunded Amount"): "2.00",  # less than recorded: line 7
                (3, "Refunded Amount"): "5.00",  # #1002 has 9.00 refunded: line 5
                (4, "Cancelled at"): "2025-10-13 09:00:00 +0000",  # #1003 cancelled
                (10, "Lineitem quantity"): "-1",  # a bad row of #1006: line 12
            },
        )
        errors_path = tmp_path / "errors.csv"
        report = run(session, settings, later, skip_invalid=True, errors_path=errors_path)
        assert order(session, "#1003").status == "cancelled"
        assert order(session, "#1004").refunded_amount == 350
        with errors_path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        assert [(r[0], r[1]) for r in rows] == [
            ("5", "Refunded Amount"),
            ("7", "Refunded Amount"),
            ("11", ""),
            ("12", "Lineitem quantity"),
        ]
        assert rows[1][3].startswith("#1004,Sara.Mansouri@Example.com")
        assert report.error_count == 3


class TestLaterCancellation:
    def test_cancelled_once(self, session: Session, settings: Settings, tmp_path: Path) -> None:
        run(session, settings)
        later = variant(tmp_path, {(4, "Cancelled at"): "2025-10-13 09:00:00 +0000"})
        report = run(session, settings, later)
        run(session, settings, later)
        cancelled = order(session, "#1003")
        assert cancelled.status == "cancelled"
        assert cancelled.cancelled_at is not None
        assert cancelled.cancelled_at.isoformat() == "2025-10-13T09:00:00+00:00"
        (event,) = events(session, ORDER_CANCELLED, "#1003")
        assert (event.payload["from"], event.payload["to"]) == ("paid", "cancelled")
        assert report.stats.orders_cancelled == 1

    def test_cancelled_and_refunded_stays_cancelled(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings)
        later = variant(
            tmp_path,
            {
                (9, "Cancelled at"): "2025-11-21 10:00:00 +0000",
                (9, "Financial Status"): "refunded",
                (9, "Refunded Amount"): "31.50",
            },
        )
        run(session, settings, later)
        john = order(session, "#1006")
        assert (john.status, john.refunded_amount) == ("cancelled", 3150)
        refund = session.scalar(select(Refund).where(Refund.order_id == john.id))
        assert refund is not None
        assert refund.refunded_at.isoformat() == "2025-11-21T10:00:00+00:00"
        assert len(events(session, ORDER_CANCELLED, "#1006")) == 1


class TestLaterWooCommerceExport:
    def test_a_new_refund_item_is_recorded(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings, WOO, fmt="woocommerce")
        later = variant(
            tmp_path,
            {
                (WOO_502, "refund_items"): "amount:4.50|reason:Cold drink|date:2025-09-04 09:00:00;"
                "amount:2.00|reason:Late|date:2025-09-10 12:00:00"
            },
            source=WOO,
        )
        run(session, settings, later, fmt="woocommerce")
        assert refunds_of(session, "502", "woocommerce") == [
            ("woocommerce-refund-1", 450),
            ("woocommerce-refund-2", 200),
        ]
        assert order(session, "502", "woocommerce").refunded_amount == 650
        before = table_counts(session)
        run(session, settings, later, fmt="woocommerce")
        assert table_counts(session) == before

    def test_refunds_listed_newest_first_match_by_amount_and_date(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        run(session, settings, WOO, fmt="woocommerce")
        later = variant(
            tmp_path,
            {
                (WOO_502, "refund_items"): "amount:2.00|reason:Late|date:2025-09-10 12:00:00;"
                "amount:4.50|reason:Cold drink|date:2025-09-04 09:00:00"
            },
            source=WOO,
        )
        run(session, settings, later, fmt="woocommerce")
        refunds = session.scalars(
            select(Refund).where(Refund.order_id == order(session, "502", "woocommerce").id)
        )
        assert sorted((r.external_id, r.amount, r.reason) for r in refunds) == [
            ("woocommerce-refund-1", 450, "Cold drink"),
            ("woocommerce-refund-2", 200, "Late"),
        ]
