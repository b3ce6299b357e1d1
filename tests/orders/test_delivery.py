"""Late orders and on-time rates: the lists and rates equal a direct computation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_order
from tests.web.helpers import logged_in
from wafa.auth.models import Role
from wafa.core.calendars import month_key
from wafa.core.settings import CalendarKind
from wafa.orders import delivery
from wafa.orders.models import Order
from wafa.orders.sales import is_sale
from wafa.orders.schemas import OrderStatusUpdate
from wafa.orders.service import update_order_status

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _store(session: Session, count: int = 60) -> list[Order]:
    """Orders with and without promises, delivered early, late or not yet, some cancelled."""
    rng = random.Random(11)
    made = []
    for i in range(count):
        placed = NOW - timedelta(days=rng.randint(1, 80), minutes=rng.randint(0, 1440))
        promised = placed + timedelta(hours=rng.randint(2, 96)) if i % 7 else None
        delivered = None
        if promised is not None and rng.random() < 0.7:
            delivered = promised + timedelta(hours=rng.randint(-30, 30))
        made.append(
            create_order(
                session,
                channel=rng.choice(["online", "in_store", "phone"]),
                placed_at=placed.isoformat(),
                promised_at=promised.isoformat() if promised else None,
                delivered_at=delivered.isoformat() if delivered else None,
            )
        )
    for order in made[::9]:
        update_order_status(session, order_id=order.id, data=OrderStatusUpdate(status="cancelled"))
    session.flush()
    return made


def _by_hand(orders: list[Order]) -> tuple[set[str], dict[str, tuple[int, int, int]]]:
    late: set[str] = set()
    per_channel: dict[str, list[int]] = {}
    for o in orders:
        if o.promised_at is None or not is_sale(o.status, o.total_amount, o.refunded_amount):
            continue
        overdue = o.delivered_at is None and o.promised_at < NOW
        if overdue or (o.delivered_at is not None and o.delivered_at > o.promised_at):
            late.add(o.external_id)
        counts = per_channel.setdefault(o.channel, [0, 0, 0])
        if o.delivered_at is not None:
            counts[0] += 1
            counts[1] += int(o.delivered_at <= o.promised_at)
        counts[2] += int(overdue)
    return late, {k: (v[0], v[1], v[2]) for k, v in per_channel.items()}


class TestLateOrders:
    def test_the_list_and_the_rates_equal_a_direct_computation(self, session: Session) -> None:
        _store(session)
        orders = list(session.scalars(select(Order)))
        want_late, want_rates = _by_hand(orders)
        rows, total = delivery.late_orders(
            session, now=NOW, filters=delivery.LateFilters(), limit=500
        )
        assert total == len(want_late) == len(rows)
        assert {r.order.external_id for r in rows} == want_late
        # Overdue first, then by promise.
        kinds = [r.which for r in rows]
        assert kinds == sorted(kinds, key=lambda k: k is not delivery.Lateness.overdue)
        got = {
            r.key: (r.delivered, r.on_time, r.overdue)
            for r in delivery.rates(
                session,
                by="channel",
                now=NOW,
                timezone="UTC",
                calendar=CalendarKind.gregorian,
            )
        }
        assert got == {k: v for k, v in want_rates.items() if any(v)}

    def test_filters_narrow_the_list(self, session: Session) -> None:
        _store(session)
        overdue, n_overdue = delivery.late_orders(
            session, now=NOW, filters=delivery.LateFilters(which=delivery.Lateness.overdue)
        )
        assert overdue and all(r.order.delivered_at is None for r in overdue)
        phone, _ = delivery.late_orders(
            session, now=NOW, filters=delivery.LateFilters(channel="phone"), limit=500
        )
        assert phone and all(r.order.channel == "phone" for r in phone)
        _, everything = delivery.late_orders(session, now=NOW, filters=delivery.LateFilters())
        assert n_overdue < everything

    @pytest.mark.parametrize(
        ("zone", "calendar"),
        [("Asia/Tehran", CalendarKind.jalali), ("America/Los_Angeles", CalendarKind.gregorian)],
    )
    def test_months_are_local_months_of_the_promise(
        self, session: Session, zone: str, calendar: CalendarKind
    ) -> None:
        _store(session)
        orders = list(session.scalars(select(Order)))
        want: dict[int, list[int]] = {}
        for o in orders:
            if o.promised_at is None or not is_sale(o.status, o.total_amount, o.refunded_amount):
                continue
            if o.delivered_at is None and o.promised_at >= NOW:
                continue
            key = month_key(o.promised_at.astimezone(ZoneInfo(zone)).date(), calendar)
            counts = want.setdefault(key, [0, 0])
            if o.delivered_at is not None:
                counts[0] += 1
                counts[1] += int(o.delivered_at <= o.promised_at)
        got = delivery.rates(session, by="month", now=NOW, timezone=zone, calendar=calendar)
        assert {f"{k // 12:04d}-{k % 12 + 1:02d}": tuple(v) for k, v in want.items()} == {
            r.key: (r.delivered, r.on_time) for r in got
        }
        if calendar is CalendarKind.jalali:
            assert all(r.key.startswith("140") for r in got)

    def test_a_promise_at_a_month_end_counts_in_its_local_month(self, session: Session) -> None:
        # 30 March 2026 21:00 UTC is already 31 March 00:30 in Tehran: still Farvardin 1405
        # (which began on 21 March); 20 March 21:00 UTC is 21 March 00:30 there: Farvardin too,
        # while 20 March 20:00 UTC is 20 March 23:30: Esfand 1404.
        for stamp in ("2026-03-20T20:00:00+00:00", "2026-03-20T21:00:00+00:00"):
            create_order(
                session,
                placed_at="2026-03-18T10:00:00+00:00",
                promised_at=stamp,
                delivered_at=stamp,
            )
        got = {
            r.key: r.delivered
            for r in delivery.rates(
                session, by="month", now=NOW, timezone="Asia/Tehran", calendar=CalendarKind.jalali
            )
        }
        assert got == {"1404-12": 1, "1405-01": 1}


class TestLatePage:
    def test_the_page_and_the_api(self, session: Session, client: TestClient) -> None:
        logged_in(client, session)
        owner_client = client
        late = create_order(
            session,
            number="#LATE-1",
            placed_at=(datetime.now(UTC) - timedelta(days=5)).isoformat(),
            promised_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
        )
        session.flush()
        page = owner_client.get("/orders/late")
        assert page.status_code == 200
        assert "#LATE-1" in page.text and "On time by month of the promise" in page.text
        assert 'href="/flows/delay_notice"' in page.text  # the owner may run the flow
        fa = owner_client.get("/orders/late?which=overdue", headers={"Accept-Language": "fa"})
        assert fa.status_code == 200
        api = owner_client.get("/api/v1/orders/late")
        assert api.status_code == 200
        assert [i["order"]["id"] for i in api.json()["items"]] == [str(late.id)]
        assert api.json()["items"][0]["which"] == "overdue"
        rates = owner_client.get("/api/v1/orders/on-time?by=channel").json()
        assert rates == [
            {"key": "online", "delivered": 0, "on_time": 0, "overdue": 1, "rate": None}
        ]
        assert owner_client.get("/api/v1/orders/late?which=soon").status_code == 422

    def test_a_cashier_sees_the_list_without_the_flow_link(
        self, session: Session, client: TestClient
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        page = client.get("/orders/late")
        assert page.status_code == 200 and "/flows/delay_notice" not in page.text
