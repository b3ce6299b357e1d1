from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.orders.importing.helpers import SHOPIFY, table_counts, variant
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.customers.models import ConsentRecord, Customer
from wafa.ingest import SHOPIFY as SHOPIFY_FORMAT
from wafa.orders.events import OrderPlaced
from wafa.orders.importing.parser import OrderParser
from wafa.orders.importing.pipeline import import_orders
from wafa.orders.importing.readers import CsvSource
from wafa.orders.importing.writer import WriteStats
from wafa.orders.models import Order, OrderLine, Refund
from wafa.orders.service import order_placed_event


def run(
    session: Session, settings: Settings, path: Path = SHOPIFY, **options: object
) -> WriteStats:
    return import_orders(session, path, fmt="shopify", settings=settings, **options).stats  # type: ignore[arg-type]


def orders_by_name(session: Session) -> dict[str, Order]:
    return {
        o.external_id: o for o in session.scalars(select(Order).where(Order.source == "shopify"))
    }


class TestShopifyExport:
    def test_groups_rows_into_orders_by_name(self, session: Session, settings: Settings) -> None:
        stats = run(session, settings)
        orders = orders_by_name(session)
        assert sorted(orders) == ["#1001", "#1002", "#1003", "#1004", "#1005", "#1006"]
        assert stats.orders_created == 6
        lines = {
            name: [
                (ln.sku, ln.quantity, ln.unit_price_amount, ln.discount_amount)
                for ln in session.scalars(
                    select(OrderLine).where(OrderLine.order_id == o.id).order_by(OrderLine.line_no)
                )
            ]
            for name, o in orders.items()
        }
        assert lines["#1001"] == [("COF-FW", 2, 450, 0), ("PAS-AC", 1, 350, 0)]
        assert lines["#1004"] == [
            ("COF-FW", 1, 450, 0),
            ("PAS-AC", 1, 350, 0),
            ("EQP-KET", 1, 750, 0),
        ]
        assert lines["#1006"] == [("BEA-ES1K", 1, 3000, 300), ("COF-LAT", 1, 450, 0)]

    def test_order_level_fields_come_from_the_first_row(
        self, session: Session, settings: Settings
    ) -> None:
        run(session, settings)
        first = orders_by_name(session)["#1001"]
        assert first.total_amount == 1250
        assert first.currency == "USD"
        assert first.placed_at.isoformat() == "2025-10-07T07:50:26+00:00"
        assert first.status == "fulfilled"
        assert first.contact_name == "سارة المنصوري"
        assert first.attributes["notes"] == "Leave at the door\nring twice"
        assert orders_by_name(session)["#1006"].coupon_codes == ["WELCOME10"]
        assert orders_by_name(session)["#1002"].channel == "in_store"

    def test_refunds_become_refund_records(self, session: Session, settings: Settings) -> None:
        run(session, settings)
        orders = orders_by_name(session)
        refunds = {
            r.order_id: r
            for r in session.scalars(
                select(Refund).where(Refund.order_id.in_([o.id for o in orders.values()]))
            )
        }
        full, partial = orders["#1002"], orders["#1004"]
        assert (full.status, full.refunded_amount, refunds[full.id].amount) == (
            "refunded",
            900,
            900,
        )
        assert (partial.status, partial.refunded_amount, refunds[partial.id].amount) == (
            "partially_refunded", 350, 350,
        )  # fmt: skip
        assert len(refunds) == 2
        assert {r.external_id for r in refunds.values()} == {"shopify-export-refund"}

    def test_cancelled_order_keeps_its_status(self, session: Session, settings: Settings) -> None:
        run(session, settings)
        cancelled = orders_by_name(session)["#1005"]
        assert cancelled.status == "cancelled"
        assert cancelled.cancelled_at is not None

    def test_guest_order_has_no_customer(self, session: Session, settings: Settings) -> None:
        stats = run(session, settings)
        assert orders_by_name(session)["#1003"].customer_id is None
        assert stats.guests == 1

    def test_same_person_matched_across_orders(self, session: Session, settings: Settings) -> None:
        stats = run(session, settings)
        orders = orders_by_name(session)
        assert orders["#1001"].customer_id == orders["#1004"].customer_id
        sara = session.get(Customer, orders["#1001"].customer_id)
        assert sara is not None
        assert (sara.email, sara.phone, sara.name) == (
            "sara.mansouri@example.com", "+971501234567", "سارة المنصوري",
        )  # fmt: skip
        ali = session.get(Customer, orders["#1002"].customer_id)
        assert ali is not None and (ali.name, ali.phone, ali.email) == (
            "علی رضایی",
            "+989123456789",
            None,
        )
        assert stats.customers_created == 4

    def test_marketing_opt_in_becomes_consent_with_its_source(
        self, session: Session, settings: Settings
    ) -> None:
        run(session, settings)
        orders = orders_by_name(session)
        sara = session.get(Customer, orders["#1001"].customer_id)
        john = session.get(Customer, orders["#1006"].customer_id)
        assert sara is not None and john is not None
        assert sara.email_consent is True and john.email_consent is False
        records = list(
            session.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == sara.id))
        )
        assert [(r.channel, r.granted, r.source) for r in records] == [
            ("email", True, "shopify import: Accepts Marketing")
        ]

    def test_events_go_to_the_outbox(self, session: Session, settings: Settings) -> None:
        run(session, settings)
        events = list(
            session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.topic.in_(["order.placed", "order.refunded", "customer.created"])
                )
            )
        )
        topics = sorted(e.topic for e in events)
        assert topics.count("order.placed") == 6
        assert topics.count("order.refunded") == 2
        assert topics.count("customer.created") == 4
        placed = next(e for e in events if e.topic == "order.placed" and e.payload["total"] == 1250)
        order = orders_by_name(session)["#1001"]
        # The importer writes its rows fast, by hand; they must read as the typed event.
        assert OrderPlaced.model_validate(placed.payload) == order_placed_event(
            order, imported=True
        )
        assert placed.subject_id == order.id

    def test_reimport_changes_nothing(self, session: Session, settings: Settings) -> None:
        run(session, settings)
        before = table_counts(session)
        stats = run(session, settings)
        assert table_counts(session) == before
        assert (stats.orders_created, stats.orders_present, stats.customers_created) == (0, 6, 0)

    def test_source_option_keys_orders_separately(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        no_ids = variant(tmp_path, shop_ids=False)
        run(session, settings, no_ids)
        stats = run(session, settings, no_ids, source="old-shop")
        assert stats.orders_created == 6
        assert stats.customers_created == 0
        assert len(stats.matched) == 4

    def test_shopify_ids_make_one_order_whatever_the_source(
        self, session: Session, settings: Settings
    ) -> None:
        first = run(session, settings)
        again = run(session, settings, source="old-shop")
        assert (first.orders_created, again.orders_created, again.orders_present) == (6, 0, 6)
        refs = session.scalars(select(Order.shop_ref).where(Order.source == "shopify")).all()
        assert sorted(r or "" for r in refs) == [
            f"shopify:82000{n}" for n in range(1, 7)
        ]  # the Id column


class TestFastAndCarefulPaths:
    def test_both_read_a_good_order_the_same(self, settings: Settings) -> None:
        parser = OrderParser(SHOPIFY_FORMAT, settings=settings, source="shopify")
        records = CsvSource(SHOPIFY).records()
        parser.bind(next(records))
        rows = list(records)
        fast = [parser._row_line(r, "USD", []) for r in rows]
        careful = [parser._careful_line(r, "USD", []) for r in rows]
        assert fast == careful
        assert all(line is not None for line in fast)


@pytest.mark.parametrize("batch_size", [1, 2, 5000])
def test_batch_size_does_not_change_the_result(
    session: Session, settings: Settings, batch_size: int
) -> None:
    stats = run(session, settings, batch_size=batch_size)
    assert (stats.orders_created, stats.customers_created, stats.refunds, stats.lines) == (
        6,
        4,
        2,
        10,
    )


class TestTextAsWritten:
    def test_tabs_backslashes_and_line_breaks_are_stored_as_written(
        self, session: Session, settings: Settings, tmp_path: Path
    ) -> None:
        # PostgreSQL receives rows as COPY text, where these characters are escapes.
        odd = "Sara\t\\N \\ back\\slash\r\nnext line"
        path = variant(
            tmp_path,
            {(9, "Billing Name"): odd, (9, "Shipping Address1"): odd, (9, "Notes"): odd},
        )
        run(session, settings, path)
        john = orders_by_name(session)["#1006"]
        assert john.contact_name == odd
        assert john.shipping_address is not None and john.shipping_address.startswith(odd)
        assert john.attributes["notes"] == odd
