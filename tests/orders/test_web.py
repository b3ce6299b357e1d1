from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer, create_order
from tests.web.helpers import logged_in
from wafa.orders import service as orders
from wafa.orders.schemas import RefundCreate


class TestOrderList:
    def test_lists_orders_newest_first(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_order(session, number="#OLD", placed_at=datetime(2026, 1, 5, tzinfo=UTC).isoformat())
        create_order(session, number="#NEW", placed_at=datetime(2026, 3, 5, tzinfo=UTC).isoformat())
        page = client.get("/orders").text
        assert page.index("#NEW") < page.index("#OLD")

    def test_filter_by_status(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_order(session, number="#PAID-1", status="paid")
        create_order(session, number="#PLACED-1")
        page = client.get("/orders", params={"status": "paid"}).text
        assert "#PAID-1" in page
        assert "#PLACED-1" not in page

    def test_filter_by_channel(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_order(session, number="#SHOP-1", channel="in_store")
        create_order(session, number="#WEB-1", channel="online")
        page = client.get("/orders", params={"channel": "in_store"}).text
        assert "#SHOP-1" in page
        assert "#WEB-1" not in page

    def test_search_by_customer_name(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_customer(session, name="زهرا حسینی", email="zahra@example.com")
        create_order(session, number="#Z-1", customer={"email": "zahra@example.com"})
        create_order(session, number="#OTHER-1")
        page = client.get("/orders", params={"q": "زهرا"}).text
        assert "#Z-1" in page
        assert "#OTHER-1" not in page

    def test_orders_of_one_customer(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(session, email="one@example.com")
        create_order(session, number="#MINE", customer={"email": "one@example.com"})
        create_order(session, number="#THEIRS")
        page = client.get("/orders", params={"customer": str(customer.id)}).text
        assert "#MINE" in page
        assert "#THEIRS" not in page

    def test_guest_order_is_listed_as_guest(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_order(session, number="#GUEST", customer=None)
        assert "Guest" in client.get("/orders", params={"q": "#GUEST"}).text

    def test_pages_do_not_skip_or_repeat(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        start = datetime(2026, 2, 1, tzinfo=UTC)
        numbers = [f"#P{i:03d}" for i in range(35)]
        for i, number in enumerate(numbers):
            # Pairs share a timestamp: the cursor must break ties by id.
            placed = start + timedelta(hours=i // 2)
            create_order(session, number=number, source="paging", placed_at=placed.isoformat())
        first = client.get("/orders", params={"q": "#P"}).text
        cursor = first.split("cursor=")[1].split('"')[0]
        second = client.get(f"/orders?q=%23P&cursor={cursor}").text
        seen = [n for n in numbers if n in first] + [n for n in numbers if n in second]
        assert sorted(seen) == numbers

    def test_damaged_cursor_is_a_422_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        assert client.get("/orders", params={"cursor": "garbage!"}).status_code == 422

    def test_arabic_totals_use_arab_indic_digits(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, locale="ar")
        create_order(session, number="#AR-1")
        assert "٩٫٠٠" in client.get("/orders").text  # $9.00


class TestOrderPage:
    def test_shows_lines_totals_and_customer(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        customer = create_customer(session, name="Yusuf Khatib", email="yusuf@example.com")
        order = create_order(
            session,
            number="#2001",
            customer={"email": "yusuf@example.com"},
            lines=[
                {"sku": "BAK-1", "name": "Baklava box", "quantity": 2, "unit_price": 1650},
                {"sku": "TEA-1", "name": "Saffron tea", "quantity": 1, "unit_price": 890},
            ],
        )
        page = client.get(f"/orders/{order.id}").text
        assert "Baklava box" in page
        assert "Saffron tea" in page
        assert "$41.90" in page  # 2 × 16.50 + 8.90
        assert "Yusuf Khatib" in page
        assert f'href="/customers/{customer.id}"' in page

    def test_shows_refunds(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        order = create_order(session, number="#R-1")
        orders.refund_order(
            session,
            order_id=order.id,
            data=RefundCreate(external_id="rf-1", amount=300, reason="Broken cup"),
        )
        page = client.get(f"/orders/{order.id}").text
        assert "Broken cup" in page
        assert "−$3.00" in page
        assert "Partially refunded" in page
        assert "$6.00" in page  # net

    def test_status_progress(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, locale="fa")
        order = create_order(
            session,
            status="paid",
            placed_at=datetime(2026, 3, 21, 9, 0, tzinfo=UTC).isoformat(),
            paid_at=datetime(2026, 3, 21, 9, 5, tzinfo=UTC).isoformat(),
        )
        page = client.get(f"/orders/{order.id}").text
        assert 'class="done">ثبت‌شده' in page
        assert 'class="done">پرداخت‌شده' in page
        assert "۱ فروردین ۱۴۰۵" in page

    def test_unknown_order_is_a_404_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.get(f"/orders/{uuid.uuid4()}")
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
