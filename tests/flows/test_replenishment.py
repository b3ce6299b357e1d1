"""The replenishment preset: a reminder a few days before a customer's own rhythm for a
product says they run out (``wafa.flows.replenish``), evaluated once a day in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock, make_settings
from tests.flows.helpers import enrolments, messages, no_limits
from tests.loyalty.helpers import place
from tests.messaging.helpers import subscriber
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.flows import jobs, presets, replenish, service
from wafa.flows.engine import definition_of
from wafa.flows.models import Flow
from wafa.flows.spec import ReplenishTrigger
from wafa.orders import service as orders
from wafa.orders.schemas import OrderStatusUpdate

BEANS = [{"sku": "BEANS-1", "name": "House beans 250 g", "quantity": 1, "unit_price": 1200}]
MILK = [{"sku": "MILK-1", "name": "Oat milk", "quantity": 1, "unit_price": 300}]
DAY0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _on(session: Session) -> Flow:
    presets.ensure_presets(session)
    flow = service.set_enabled(session, key="replenishment", enabled=True, by="test")
    flow.holdout_percent = 0
    session.flush()
    return flow


def _day(n: int) -> date:
    return (DAY0 + timedelta(days=n)).date()


def test_reminded_three_days_before_their_own_interval_once_per_cycle(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    no_limits(session)
    flow = _on(session)
    regular = subscriber(session)  # beans on days 0, 21, 42: every 21 days, next on 63
    twice = subscriber(session)  # only two purchase days: no rhythm yet
    cancelled = subscriber(session)  # three, but one cancelled: two purchase days
    same_day = subscriber(session)  # two baskets on day 0 are one purchase day
    for n in (0, 21, 42):
        place(session, regular, lines=BEANS, placed_at=DAY0 + timedelta(days=n))
        place(session, regular, lines=MILK, placed_at=DAY0 + timedelta(days=n + 1))
    for n in (0, 21):
        place(session, twice, lines=BEANS, placed_at=DAY0 + timedelta(days=n))
    for n in (0, 21, 42):
        order = place(session, cancelled, lines=BEANS, placed_at=DAY0 + timedelta(days=n))
    orders.update_order_status(
        session, order_id=order.id, data=OrderStatusUpdate(status="cancelled")
    )
    for n in (0, 0, 42):
        place(session, same_day, lines=BEANS, placed_at=DAY0 + timedelta(days=n, hours=n % 5))

    trigger = definition_of(flow).trigger
    assert isinstance(trigger, ReplenishTrigger)
    [found] = replenish.due_on(session, trigger, _day(60), settings.timezone)
    assert (found.customer_id, found.interval_days, found.expected_on) == (
        regular.id,
        21,
        _day(63),
    )
    assert found.product_name == "House beans 250 g"
    # Milk (days 1, 22, 43: next on 64) is due in its own window, from day 61.
    assert [d.sku for d in replenish.due_on(session, trigger, _day(61), "UTC")] == [
        "BEANS-1",
        "MILK-1",
    ]
    assert replenish.due_on(session, trigger, _day(64), "UTC")[0].sku == "MILK-1"
    assert replenish.due_on(session, trigger, _day(65), "UTC") == []  # overdue: no nagging

    clock.set(datetime.combine(_day(59), datetime.min.time(), tzinfo=UTC) + timedelta(hours=1))
    assert jobs.run_day(session_factory, settings, _day(59))["entered"] == 0
    clock.advance(days=1)
    assert jobs.run_day(session_factory, settings, _day(60))["entered"] == 1
    assert jobs.run_day(session_factory, settings, _day(60))["entered"] == 0  # run twice
    clock.set(datetime.combine(_day(60), datetime.min.time(), tzinfo=UTC) + timedelta(hours=10))
    jobs.run_due(session_factory, settings)
    [beans] = messages(session, flow)
    assert beans.customer_id == regular.id
    assert beans.context["product"]["name"] == "House beans 250 g"
    assert beans.context["expected_on"] == _day(63).isoformat()
    # The next day: the milk, in its own window; beans' cycle reminded nobody twice.
    clock.set(datetime.combine(_day(61), datetime.min.time(), tzinfo=UTC) + timedelta(hours=1))
    assert jobs.run_day(session_factory, settings, _day(61))["entered"] == 1
    clock.advance(hours=9, minutes=5)
    jobs.run_due(session_factory, settings)
    assert [m.context["product"]["sku"] for m in messages(session, flow)] == [
        "BEANS-1",
        "MILK-1",
    ]
    assert jobs.run_day(session_factory, settings, _day(62))["entered"] == 0

    # Bought again on day 62: a new cycle from the new average, (62 - 0) // 3 = 20 days.
    place(session, regular, lines=BEANS, placed_at=DAY0 + timedelta(days=62))
    [again] = replenish.due_on(session, trigger, _day(79), "UTC")
    assert (again.interval_days, again.expected_on, again.purchases) == (20, _day(82), 4)
    clock.set(datetime.combine(_day(79), datetime.min.time(), tzinfo=UTC) + timedelta(hours=1))
    assert jobs.run_day(session_factory, settings, _day(79))["entered"] == 1
    occasions = sorted(e.occasion for e in enrolments(session, flow))
    assert len(occasions) == 3 and len(set(occasions)) == 3


def test_days_are_the_business_s_local_days(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    """Purchases at 23:00 UTC fall on the next day in Tehran (UTC+3:30)."""
    flow = _on(session)
    customer = subscriber(session)
    for n in (0, 14, 28):
        place(session, customer, lines=BEANS, placed_at=DAY0 + timedelta(days=n, hours=14))
    trigger = definition_of(flow).trigger
    assert isinstance(trigger, ReplenishTrigger)
    [utc] = replenish.due_on(session, trigger, _day(40), "UTC")
    [tehran] = replenish.due_on(session, trigger, _day(40), "Asia/Tehran")
    assert utc.last_day == _day(28) and tehran.last_day == _day(29)
    assert tehran.expected_on == _day(43)
    clock.set(datetime.combine(_day(41), datetime.min.time(), tzinfo=UTC))
    tehran_settings = make_settings(settings.database_url, timezone="Asia/Tehran")
    assert jobs.run_day(session_factory, tehran_settings, _day(41))["entered"] == 1


def test_listed_by_the_api(api: TestClient) -> None:
    flows = {f["key"]: f for f in api.get("/api/v1/flows").json()}
    assert flows["replenishment"]["enabled"] is False
    assert flows["replenishment"]["definition"]["trigger"]["type"] == "replenish"


def test_a_bad_rhythm_is_refused(session: Session) -> None:
    presets.ensure_presets(session)
    definition = dict(service.get_flow(session, "replenishment").definition)
    definition["trigger"] = {"type": "replenish", "days_before": 10, "min_interval_days": 7}
    with pytest.raises(Invalid) as refused:
        service.update_flow(session, key="replenishment", by="test", definition=definition)
    assert refused.value.errors[0][0][:2] == ("definition", "trigger")
