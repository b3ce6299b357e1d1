from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer, create_order
from wafa.core.db import session_scope
from wafa.core.errors import Invalid
from wafa.core.settings import CalendarKind, Settings
from wafa.orders import queries
from wafa.orders import service as orders
from wafa.orders.schemas import OrderStatusUpdate, RefundCreate

UTC_ZONE = ZoneInfo("UTC")
TEHRAN = ZoneInfo("Asia/Tehran")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).isoformat()


class TestOverview:
    def test_month_figures_are_net_of_refunds_and_cancellations(
        self, session: Session, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
        create_order(session, placed_at=at(2026, 3, 2, 10))  # 900
        refunded = create_order(session, placed_at=at(2026, 3, 3, 10))  # 900 - 300
        orders.refund_order(
            session, order_id=refunded.id, data=RefundCreate(external_id="r1", amount=300)
        )
        cancelled = create_order(session, placed_at=at(2026, 3, 4, 10))
        orders.update_order_status(
            session, order_id=cancelled.id, data=OrderStatusUpdate(status="cancelled")
        )
        create_order(session, placed_at=at(2026, 2, 27, 10))  # last month
        create_order(session, placed_at=at(2026, 3, 5, 10), currency="EUR")  # other currency
        data = queries.overview(
            session,
            now=clock(),
            zone=UTC_ZONE,
            calendar=CalendarKind.gregorian,
            currency="USD",
        )
        assert data.month == date(2026, 3, 1)
        assert (data.orders, data.revenue) == (2, 1500)
        assert data.months[-2] == queries.MonthRevenue(date(2026, 2, 1), 900, 1)
        assert data.average_order == 750

    def test_previous_month_is_compared_to_the_same_day(
        self, session: Session, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
        create_order(session, placed_at=at(2026, 2, 5, 10))  # within the first 9.5 days
        create_order(session, placed_at=at(2026, 2, 20, 10))  # later in February
        data = queries.overview(
            session, now=clock(), zone=UTC_ZONE, calendar=CalendarKind.gregorian, currency="USD"
        )
        assert (data.orders_previous, data.revenue_previous) == (1, 900)

    def test_jalali_month_in_the_business_zone(self, session: Session, clock: FrozenClock) -> None:
        # 1 Farvardin 1405 starts at 2026-03-20 20:30 UTC in Tehran.
        clock.set(datetime(2026, 3, 25, 12, 0, tzinfo=UTC))
        create_order(session, placed_at=at(2026, 3, 20, 20, 0))  # still Esfand in Tehran
        create_order(session, placed_at=at(2026, 3, 20, 21, 0))  # 1 Farvardin, 00:30 local
        data = queries.overview(
            session, now=clock(), zone=TEHRAN, calendar=CalendarKind.jalali, currency="USD"
        )
        assert data.month == date(2026, 3, 21)
        assert data.orders == 1
        assert data.months[-2].orders == 1

    def test_repeat_rate(self, session: Session, clock: FrozenClock) -> None:
        for day in (1, 8):
            create_order(
                session, customer={"email": "loyal@example.com"}, placed_at=at(2026, 3, day)
            )
        for _ in range(2):  # twice on one day: one visit
            create_order(session, customer={"email": "once@example.com"})
        create_order(session, customer=None)  # guests are not customers
        data = queries.overview(
            session, now=clock(), zone=UTC_ZONE, calendar=CalendarKind.gregorian, currency="USD"
        )
        assert data.buyers == 2
        assert data.repeat_rate == pytest.approx(0.5)

    def test_new_customers_are_first_time_buyers_this_month(
        self, session: Session, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 3, 20, tzinfo=UTC))
        create_order(session, customer={"email": "old@example.com"}, placed_at=at(2026, 1, 4))
        create_order(session, customer={"email": "old@example.com"}, placed_at=at(2026, 3, 4))
        create_order(session, customer={"email": "new@example.com"}, placed_at=at(2026, 3, 5))
        create_customer(session, email="never-bought@example.com")
        # A first order that was cancelled was no purchase: this month's is the first.
        cancelled = create_order(
            session, customer={"email": "second-try@example.com"}, placed_at=at(2026, 2, 1)
        )
        orders.update_order_status(
            session, order_id=cancelled.id, data=OrderStatusUpdate(status="cancelled")
        )
        create_order(
            session, customer={"email": "second-try@example.com"}, placed_at=at(2026, 3, 6)
        )
        data = queries.overview(
            session, now=clock(), zone=UTC_ZONE, calendar=CalendarKind.gregorian, currency="USD"
        )
        assert data.new_customers == 2
        assert data.customers == 4

    def test_empty_shop(self, session: Session, clock: FrozenClock) -> None:
        data = queries.overview(
            session, now=clock(), zone=UTC_ZONE, calendar=CalendarKind.gregorian, currency="USD"
        )
        assert (data.orders, data.revenue, data.repeat_rate, data.average_order) == (
            0,
            0,
            None,
            None,
        )
        assert len(data.months) == 6

    def test_channels_this_month(self, session: Session, clock: FrozenClock) -> None:
        clock.set(datetime(2026, 3, 20, tzinfo=UTC))
        create_order(session, channel="in_store", placed_at=at(2026, 3, 2))
        create_order(session, channel="in_store", placed_at=at(2026, 3, 3))
        create_order(session, channel="phone", placed_at=at(2026, 3, 4))
        create_order(session, channel="online", placed_at=at(2026, 2, 4))
        data = queries.overview(
            session, now=clock(), zone=UTC_ZONE, calendar=CalendarKind.gregorian, currency="USD"
        )
        assert data.channels == {"in_store": 2, "phone": 1}


class TestCustomerTotals:
    def test_counts_sales_per_currency(self, session: Session) -> None:
        customer = create_customer(session, email="totals@example.com")
        create_order(session, customer={"email": "totals@example.com"}, placed_at=at(2026, 1, 1))
        create_order(
            session,
            customer={"email": "totals@example.com"},
            currency="EUR",
            placed_at=at(2026, 2, 1),
        )
        totals = queries.customer_totals(session, [customer.id])[customer.id]
        assert totals.orders == 2
        assert totals.spend == {"USD": 900, "EUR": 900}
        assert totals.last_order_at == datetime(2026, 2, 1, tzinfo=UTC)

    def test_no_ids_no_query(self, session: Session) -> None:
        assert queries.customer_totals(session, []) == {}


class TestOrderFilters:
    def test_unknown_status_is_invalid(self) -> None:
        with pytest.raises(Invalid):
            queries.OrderFilters(status="lost")

    def test_unknown_channel_is_invalid(self) -> None:
        with pytest.raises(Invalid):
            queries.OrderFilters(channel="pigeon")

    def test_cursor_round_trip(self) -> None:
        order = datetime(2026, 3, 1, 10, tzinfo=UTC)
        ident = uuid.uuid4()
        assert queries.decode_order_cursor(queries.encode_order_cursor(order, ident)) == (
            order,
            ident,
        )


#: A day after the factory's default order time: a second purchase day.
NEXT_DAY = "2026-03-02T10:00:00+00:00"


class TestRepeatFigureKept:
    """On a big store the all-time repeat figure takes seconds: it is kept and refreshed."""

    def test_a_slow_answer_is_kept_then_refreshed_in_the_background(
        self, committed_db: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        queries.FIGURES.clear()
        monkeypatch.setattr(queries, "SLOW_SECONDS", 0.0)  # every answer counts as slow
        monkeypatch.setattr(queries.FIGURES, "ttl", 3600.0)

        def figure() -> tuple[int, int]:
            with session_scope(committed_db, write=False) as session:
                return queries.repeat_buyers(session, zone="UTC", currency="USD")

        with session_scope(committed_db) as session:
            create_order(session, customer={"email": "regular@example.com"})
        assert figure() == (0, 1)
        with session_scope(committed_db) as session:
            create_order(session, customer={"email": "regular@example.com"}, placed_at=NEXT_DAY)
        assert figure() == (0, 1)  # kept
        monkeypatch.setattr(queries.FIGURES, "ttl", 0.0)
        assert figure() == (0, 1)  # stale, served while the fresh one is computed
        deadline = time.monotonic() + 20
        while figure() != (1, 1):
            assert time.monotonic() < deadline, "the repeat figure was never refreshed"
            time.sleep(0.05)

    def test_a_quick_answer_is_never_kept(
        self, committed_db: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        queries.FIGURES.clear()
        monkeypatch.setattr(queries, "SLOW_SECONDS", 60.0)
        with session_scope(committed_db) as session:
            create_order(session, customer={"email": "x@example.com"})
            assert queries.repeat_buyers(session, zone="UTC", currency="USD") == (0, 1)
            create_order(session, customer={"email": "x@example.com"}, placed_at=NEXT_DAY)
            assert queries.repeat_buyers(session, zone="UTC", currency="USD") == (1, 1)
        assert queries.FIGURES.kept_keys() == []
