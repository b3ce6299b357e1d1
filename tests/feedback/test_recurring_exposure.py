"""Recurring complaints measured against each group's own sales: a product, a location or
a staff member is compared per 100 of its own orders, so complaints that rise with its
sales are not a flag and complaints that rise on flat sales are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.feedback import recurring
from wafa.feedback.models import Complaint
from wafa.orders.models import Location, Order, OrderLine

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = (NOW - timedelta(days=28), 28)
BASELINE = (NOW - timedelta(days=140), 112)


def orders(
    session: Session,
    settings: Settings,
    count: int,
    period: tuple[datetime, int],
    *,
    sku: str = "LAT",
    name: str = "Latte",
    location_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
) -> None:
    """``count`` paid orders of one line, spread evenly over ``period``."""
    start, days = period
    for i in range(count):
        at = start + timedelta(days=days * (i + 0.5) / count)
        order_id = new_id()
        session.add(
            Order(
                id=order_id,
                source="test",
                external_id=f"x-{order_id}",
                channel="in_store",
                location_id=location_id,
                status="paid",
                currency=settings.currency,
                subtotal_amount=300,
                total_amount=300,
                placed_at=at,
                attributes={"staff_id": str(staff_id)} if staff_id else {},
            )
        )
        session.add(
            OrderLine(
                order_id=order_id,
                line_no=1,
                sku=sku,
                name=name,
                quantity=1,
                unit_price_amount=300,
                total_amount=300,
            )
        )
    session.flush()


def complaints(
    session: Session, customer_id: uuid.UUID, count: int, period: tuple[datetime, int], **about: Any
) -> None:
    start, days = period
    for i in range(count):
        at = start + timedelta(days=days * (i + 0.5) / count)
        session.add(
            Complaint(
                id=new_id(),
                kind="complaint",
                customer_id=customer_id,
                category="quality",
                severity="normal",
                channel="dashboard",
                status="new",
                text="cold",
                created_at=at,
                updated_at=at,
                paused_seconds=0,
                first_response_due_at=at,
                resolution_due_at=at,
                **about,
            )
        )
    session.flush()


def flags(session: Session, settings: Settings, dimension: str) -> dict[str, recurring.Flag]:
    return {
        f.value: f
        for f in recurring.detect(session, settings=settings, now=NOW)
        if f.dimension == dimension
    }


class TestOwnSales:
    def test_products_against_their_own_orders(self, session: Session, settings: Settings) -> None:
        customer = create_customer(session)
        # Latte sells the same before and now (100 orders per 28 days); its complaints
        # double (15 -> 30 per 28 days).
        orders(session, settings, 400, BASELINE, sku="LAT", name="Latte")
        orders(session, settings, 100, WINDOW, sku="LAT", name="Latte")
        complaints(session, customer.id, 60, BASELINE, product="Latte")
        complaints(session, customer.id, 30, WINDOW, product="Latte")
        # Tea's sales triple (100 -> 300 per 28 days) and its complaints with them
        # (30 -> 90 per 28 days): per 100 of its orders nothing changed.
        orders(session, settings, 400, BASELINE, sku="TEA", name="Tea")
        orders(session, settings, 300, WINDOW, sku="TEA", name="Tea")
        complaints(session, customer.id, 120, BASELINE, product="tea")  # the SKU, folded
        complaints(session, customer.id, 90, WINDOW, product="tea")
        found = flags(session, settings, "product")
        latte, tea = found["Latte"], found["tea"]
        assert latte.exposure == "group" and tea.exposure == "group"
        assert (latte.orders_window, latte.orders_baseline) == (100, 400)
        assert (tea.orders_window, tea.orders_baseline) == (300, 400)
        assert latte.flagged and latte.p_value < 0.01
        assert latte.rate == 30.0 and latte.baseline_rate == 15.0  # per 100 of its orders
        assert not tea.flagged and tea.p_value > 0.3
        assert tea.rate == 30.0 and tea.baseline_rate == 30.0
        # Against the shop's sales (800 before, 400 now) the tea would have been flagged:
        # its sales, not its service, made the complaints rise.
        assert recurring.p_value(90, 120, 400, 800) < 0.01

    def test_locations_and_staff_against_their_own_orders(
        self, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        north = Location(code="north", name="North shop", kind="shop")
        south = Location(code="south", name="South shop", kind="shop")
        session.add_all([north, south])
        session.flush()
        ali = auth.create_user(
            session, email="ali@shop.example", password="a-long-password", role=Role.cashier
        )
        reza = auth.create_user(
            session, email="reza@shop.example", password="a-long-password", role=Role.cashier
        )
        # North and Ali: flat sales, complaints doubled. South and Reza: sales doubled,
        # complaints doubled with them.
        for loc, who, before, now in ((north, ali, 400, 100), (south, reza, 200, 100)):
            orders(session, settings, before, BASELINE, location_id=loc.id, staff_id=who.id)
            orders(session, settings, now, WINDOW, location_id=loc.id, staff_id=who.id)
        complaints(session, customer.id, 60, BASELINE, location="North shop", staff_id=ali.id)
        complaints(session, customer.id, 30, WINDOW, location="North shop", staff_id=ali.id)
        complaints(session, customer.id, 60, BASELINE, location="south", staff_id=reza.id)
        complaints(session, customer.id, 30, WINDOW, location="south", staff_id=reza.id)
        places = flags(session, settings, "location")
        assert places["North shop"].exposure == "group" and places["North shop"].flagged
        assert places["south"].exposure == "group" and not places["south"].flagged
        assert places["south"].orders_window == 100 and places["south"].orders_baseline == 200
        staff = flags(session, settings, "staff_id")
        assert staff[str(ali.id)].exposure == "group" and staff[str(ali.id)].flagged
        assert staff[str(reza.id)].exposure == "group" and not staff[str(reza.id)].flagged

    def test_without_its_own_sales_a_group_uses_the_shops(
        self, session: Session, settings: Settings
    ) -> None:
        customer = create_customer(session)
        orders(session, settings, 400, BASELINE)
        orders(session, settings, 100, WINDOW)
        complaints(session, customer.id, 10, BASELINE, product="Old scone")
        complaints(session, customer.id, 5, WINDOW, product="Old scone")
        found = flags(session, settings, "product")
        assert found["Old scone"].exposure == "shop"
        assert (found["Old scone"].orders_window, found["Old scone"].orders_baseline) == (100, 400)
        category = flags(session, settings, "category")["quality"]
        assert category.exposure == "shop" and category.orders_window == 100


class TestTheTillRecordsWhoSold:
    def test_a_counter_purchase_names_its_staff_member(
        self, session: Session, settings: Settings
    ) -> None:
        from wafa.loyalty import pos
        from wafa.loyalty.schemas.io import PosPurchase

        customer = create_customer(session)
        cashier = auth.create_user(
            session, email="till@shop.example", password="a-long-password", role=Role.cashier
        )
        made = pos.record_purchase(
            session,
            settings=settings,
            data=PosPurchase.model_validate(
                {
                    "customer_id": str(customer.id),
                    "reference": "R-1",
                    "lines": [{"name": "Latte", "quantity": 1, "unit_price": 300}],
                }
            ),
            by="staff:till",
            staff_id=cashier.id,
        )
        order = session.get(Order, made.order_id)
        assert order is not None and order.attributes == {"staff_id": str(cashier.id)}
        counted = recurring.group_orders(
            session, settings, "staff_id", order.placed_at, order.placed_at + timedelta(seconds=1)
        )
        assert counted(str(cashier.id)) == 1
