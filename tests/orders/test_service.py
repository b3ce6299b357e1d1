from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_order
from wafa.core.errors import Invalid
from wafa.core.outbox import OutboxEvent
from wafa.orders import service
from wafa.orders.models import OrderStatus
from wafa.orders.schemas import RefundCreate, RefundLineIn

LINES = [
    {"sku": "BEAN", "name": "Beans 250g", "quantity": 2, "unit_price": 1200},
    {"sku": "CUP", "name": "Cup", "quantity": 1, "unit_price": 800},
]


def topics(session: Session, subject) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(OutboxEvent.topic)
            .where(OutboxEvent.subject_id == subject)
            .order_by(OutboxEvent.id)
        )
    )


class TestCreateOrder:
    def test_emits_order_placed_in_the_same_transaction(self, session: Session) -> None:
        order = create_order(session)
        assert topics(session, order.id) == ["order.placed"]

    def test_unknown_skus_become_products(self, session: Session) -> None:
        order = create_order(
            session,
            lines=[
                {
                    "sku": "NEW-1",
                    "name": "Mug",
                    "quantity": 1,
                    "unit_price": 900,
                    "category": "merch",
                }
            ],
        )
        product = service.get_product(session, order.lines[0].product_id)  # type: ignore[arg-type]
        assert (product.sku, product.category, product.price_amount) == ("NEW-1", "merch", 900)

    def test_discount_larger_than_subtotal_is_invalid(self, session: Session) -> None:
        with pytest.raises(Invalid) as err:
            create_order(session, discount=10**6)
        assert err.value.errors[0][0] == ("discount",)

    def test_unknown_location_is_invalid(self, session: Session) -> None:
        with pytest.raises(Invalid, match="location"):
            create_order(session, location="nowhere")


class TestRefundOrder:
    def test_partial_refund_by_line_refunds_that_line(self, session: Session) -> None:
        order = create_order(session, lines=LINES)
        refund, created = service.refund_order(
            session,
            order_id=order.id,
            data=RefundCreate(external_id="r1", lines=[RefundLineIn(sku="BEAN", quantity=1)]),
        )
        assert created and refund.amount == 1200
        order = service.get_order(session, order.id)
        assert order.status == OrderStatus.partially_refunded and order.refunded_amount == 1200
        assert topics(session, order.id)[-1] == "order.refunded"

    def test_refund_without_lines_or_amount_refunds_everything_left(self, session: Session) -> None:
        order = create_order(session, lines=LINES, shipping=500)
        service.refund_order(
            session, order_id=order.id, data=RefundCreate(external_id="a", amount=1000)
        )
        refund, _ = service.refund_order(
            session, order_id=order.id, data=RefundCreate(external_id="b")
        )
        order = service.get_order(session, order.id)
        assert refund.amount == order.total_amount - 1000
        assert order.status == OrderStatus.refunded

    def test_replaying_a_refund_changes_nothing(self, session: Session) -> None:
        order = create_order(session, lines=LINES)
        first, c1 = service.refund_order(
            session, order_id=order.id, data=RefundCreate(external_id="same", amount=500)
        )
        again, c2 = service.refund_order(
            session, order_id=order.id, data=RefundCreate(external_id="same", amount=500)
        )
        assert (c1, c2) == (True, False) and first.id == again.id
        assert service.get_order(session, order.id).refunded_amount == 500

    def test_refund_above_what_is_left_is_refused_and_changes_nothing(
        self, session: Session
    ) -> None:
        order = create_order(session, lines=LINES)
        with pytest.raises(service.RefundExceedsOrder):
            service.refund_order(
                session,
                order_id=order.id,
                data=RefundCreate(external_id="big", amount=order.total_amount + 1),
            )
        assert service.get_order(session, order.id).refunded_amount == 0

    def test_refunding_more_items_than_bought_names_the_line(self, session: Session) -> None:
        order = create_order(session, lines=LINES)
        with pytest.raises(Invalid) as err:
            service.refund_order(
                session,
                order_id=order.id,
                data=RefundCreate(external_id="x", lines=[RefundLineIn(sku="CUP", quantity=2)]),
            )
        assert err.value.errors[0][0] == ("lines", 0, "quantity")
