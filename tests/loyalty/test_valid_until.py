"""One rule for "valid until this day": to the end of that local day, in the shop's zone and
calendar — the same in the form, the list, the check at the till and the API.

A coupon entered as valid until 31 March showed 1 April in the list (13 Farvardin
showed as 14): the list printed the exclusive end instant's own day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.web.helpers import logged_in, post_form
from wafa.app.factory import create_app
from wafa.auth.models import Role
from wafa.core.settings import CalendarKind, Settings
from wafa.loyalty import coupons
from wafa.loyalty.models import Coupon

SHOPS = {
    # zone, calendar, language, the day typed, the end instant (UTC), the day the list shows
    "los-angeles": (
        "America/Los_Angeles",
        CalendarKind.gregorian,
        "en",
        "2026-03-31",
        datetime(2026, 4, 1, 7, 0, tzinfo=UTC),
        "Mar 31, 2026",
    ),
    "tehran": (
        "Asia/Tehran",
        CalendarKind.jalali,
        "fa",
        "۱۴۰۵/۰۱/۱۳",
        datetime(2026, 4, 2, 20, 30, tzinfo=UTC),
        "۱۳ فروردین ۱۴۰۵",
    ),
    "tokyo": (
        "Asia/Tokyo",
        CalendarKind.gregorian,
        "en",
        "2026-03-31",
        datetime(2026, 3, 31, 15, 0, tzinfo=UTC),
        "Mar 31, 2026",
    ),
}


@pytest.fixture(params=sorted(SHOPS))
def shop(
    request: pytest.FixtureRequest,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> Iterator[tuple[str, Settings, TestClient]]:
    zone, calendar, *_ = SHOPS[request.param]
    local = settings.model_copy(update={"timezone": zone, "calendar": calendar})
    app = create_app(local)
    app.state.write_sessions = session_factory
    app.state.read_sessions = session_factory
    with TestClient(app) as client:
        yield request.param, local, client


def test_the_form_the_list_and_the_till_agree_on_the_last_day(
    shop: tuple[str, Settings, TestClient], session: Session, clock: FrozenClock
) -> None:
    name, _, client = shop
    _, _, language, typed, end, shown = SHOPS[name]
    logged_in(client, session, role=Role.manager, locale=language)
    done = post_form(
        client,
        "/loyalty/coupons/new",
        {
            "name": "Spring",
            "kind": "discount_fixed",
            "amount": "5",
            "max_uses": "10",
            "expires_at": typed,
        },
        page="/loyalty/coupons/new",
    )
    assert done.status_code == 303, done.text
    coupon = session.scalars(select(Coupon)).one()
    assert coupon.expires_at == end
    listing = client.get("/loyalty/coupons").text
    assert f'<td class="hide-sm nowrap">{shown}</td>' in listing
    clock.set(end - timedelta(seconds=1))  # the last second of the last day
    assert coupons.validate(session, code=coupon.code, customer_id=None, subtotal=1000).valid
    clock.set(end)
    late = coupons.validate(session, code=coupon.code, customer_id=None, subtotal=1000)
    assert (late.valid, late.reason) == (False, "expired")


def test_the_api_takes_the_last_local_day_too(
    shop: tuple[str, Settings, TestClient], session: Session
) -> None:
    from wafa.auth import service as auth

    name, _, client = shop
    *_, end, _ = SHOPS[name]
    _, token = auth.create_api_key(session, name="t", scopes=["read", "write"])
    session.flush()
    client.headers["Authorization"] = f"Bearer {token}"
    # The API's days are ISO (Gregorian) dates; 2 April 2026 is 13 Farvardin 1405.
    iso = {"los-angeles": "2026-03-31", "tehran": "2026-04-02", "tokyo": "2026-03-31"}[name]
    r = client.post("/api/v1/coupons", json={"name": "Api", "amount": 100, "valid_until": iso})
    assert r.status_code == 201, r.text
    assert datetime.fromisoformat(r.json()["expires_at"]) == end
    both = client.post(
        "/api/v1/coupons",
        json={"name": "Both", "amount": 100, "valid_until": iso, "expires_at": end.isoformat()},
    )
    assert both.status_code == 422
    assert [e["loc"] for e in both.json()["errors"]] == [["body", "valid_until"]]
