"""One repeat rate: the overview and the analytics page count purchase days alike.

A customer who bought twice on one day (in the business's timezone) has made one visit,
not two; the rule is in ``wafa.orders.sales``.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_order
from tests.web.helpers import logged_in
from wafa.analytics import refresh as refreshing
from wafa.analytics import summary
from wafa.analytics.retention import headline
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.orders import queries

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)


def _at(day: int, hour: int, minute: int = 0) -> str:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.UTC).isoformat()


def _figure(page: str, label: str) -> str:
    """The KPI value shown under ``label`` on a page."""
    found = re.search(
        re.escape(label) + r'</div>\s*<div class="kpi-value">([^<]+)</div>', page, re.S
    )
    assert found, f"no {label!r} figure"
    return found.group(1).strip()


def test_both_pages_show_one_figure_for_the_same_customers(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(NOW)
    queries.FIGURES.clear()
    # Twice on one day: one visit. Two days: a repeat customer. Once: a first-timer.
    for placed in (_at(2, 9), _at(2, 17)):
        create_order(session, placed_at=placed, customer={"email": "same-day@example.com"})
    for placed in (_at(3, 9), _at(10, 9)):
        create_order(session, placed_at=placed, customer={"email": "came-back@example.com"})
    create_order(session, placed_at=_at(4, 9), customer={"email": "once@example.com"})
    refreshing.refresh(session, settings=settings)
    logged_in(client, session, role=Role.owner)

    overview = client.get("/")
    analytics = client.get("/analytics")
    assert overview.status_code == 200 and analytics.status_code == 200

    assert _figure(overview.text, "Repeat rate") == "33.3%"
    assert _figure(analytics.text, "Came back") == "33.3%"


def test_a_purchase_day_is_a_day_of_the_business_timezone(session: Session) -> None:
    """20:15 and 20:45 UTC are one day in London and two in Tehran (UTC+3:30)."""
    for placed in (_at(5, 20, 15), _at(5, 20, 45)):
        create_order(session, placed_at=placed, customer={"email": "night@example.com"})
    session.flush()
    for zone, repeaters in (("Europe/London", 0), ("Asia/Tehran", 1)):
        queries.FIGURES.clear()
        assert queries.repeat_buyers(session, zone=zone, currency="USD") == (repeaters, 1)
        day = summary.day_number(dt.date(2026, 3, 20))
        figures = summary.db_summary(
            session, zone=zone, currency="USD", as_of_day=day, calibration_day=day
        )
        assert headline(figures)["repeat_customers"] == repeaters, zone
