"""The birthday on the portal's preferences page: given once when missing, changed at most
once a year, never removed, typed in the page's calendar (Jalali for Persian readers or a
Jalali business); the loyalty engine's cool-off cannot be gamed from here."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import set_rules
from tests.portal.helpers import member, sign_in
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.loyalty import birthday as birthdays
from wafa.loyalty import service as loyalty

START = datetime(2026, 4, 20, 9, tzinfo=UTC)


def _send(client: TestClient, **form: str) -> object:
    page = client.get("/portal/preferences").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/portal/birthday", data={"csrf_token": token, **form}, follow_redirects=False
    )


def _held(session: Session, customer: Customer) -> tuple[object, ...]:
    session.expire_all()
    c = session.get(Customer, customer.id)
    assert c is not None
    return (c.birth_day, c.birth_month, c.birth_year, c.birth_calendar, c.birthday_set_at)


def test_given_once_then_locked_for_a_year_then_changeable(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(START)
    customer = member(session, settings, email="bday@example.com", language="en")
    sign_in(client, session, settings, customer)
    page = client.get("/portal/preferences").text
    assert 'action="/portal/birthday"' in page and "Once given, it can change once a year" in page

    saved = _send(client, day="15", month="3", year="")
    assert saved.status_code == 303  # type: ignore[attr-defined]
    assert _held(session, customer) == (15, 3, None, "gregorian", START)
    page = client.get("/portal/preferences").text
    assert "15 March" in page
    assert 'action="/portal/birthday"' not in page  # locked: no form
    assert "It can change again from April 20, 2027" in page

    clock.advance(days=10)
    refused = _send(client, day="16", month="3")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "It can change again from April 20, 2027" in refused.text  # type: ignore[attr-defined]
    assert _held(session, customer) == (15, 3, None, "gregorian", START)
    # The same birthday again is not a change: nothing restarts.
    assert _send(client, day="15", month="3").status_code == 303  # type: ignore[attr-defined]
    assert _held(session, customer)[-1] == START

    clock.set(datetime(2027, 4, 21, 9, tzinfo=UTC))
    sign_in(client, session, settings, customer)  # the session of last year has ended
    assert _send(client, day="16", month="3", year="1990").status_code == 303  # type: ignore[attr-defined]
    assert _held(session, customer) == (16, 3, 1990, "gregorian", clock.now)


def test_bad_days_and_removal_are_refused_and_change_nothing(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(START)
    customer = member(session, settings, email="bad@example.com", language="en")
    sign_in(client, session, settings, customer)
    for form in (
        {"day": "31", "month": "2"},
        {"day": "x", "month": "2"},
        {"day": "", "month": ""},
        {"day": "3", "month": "13"},
        {"day": "3", "month": "3", "year": "1700"},
    ):
        answer = _send(client, **form)
        assert answer.status_code == 422, form  # type: ignore[attr-defined]
        assert "This is not a day of the year" in answer.text  # type: ignore[attr-defined]
        assert _held(session, customer) == (None, None, None, None, None)
    assert _send(client, day="3", month="3").status_code == 303  # type: ignore[attr-defined]
    clock.set(datetime(2027, 5, 1, tzinfo=UTC))
    sign_in(client, session, settings, customer)
    # A year on, sending nothing does not remove it (removing, then giving it again,
    # would dodge the cool-off).
    assert _send(client, day="", month="").status_code == 422  # type: ignore[attr-defined]
    assert _held(session, customer)[:2] == (3, 3)


def test_persian_reader_types_a_jalali_birthday_in_persian_digits(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(START)
    customer = member(session, settings, email="fa@example.com", language="fa")
    sign_in(client, session, settings, customer)
    page = client.get("/portal/preferences").text
    assert "فروردین" in page and "اسفند" in page  # Jalali month names
    # 30 Esfand exists only in leap years; 31 Esfand never.
    assert _send(client, day="۳۱", month="۱۲").status_code == 422  # type: ignore[attr-defined]
    assert _send(client, day="۷", month="۱", year="۱۳۷۰").status_code == 303  # type: ignore[attr-defined]
    assert _held(session, customer)[:4] == (7, 1, 1370, "jalali")
    page = client.get("/portal/preferences").text
    assert "۷ فروردین ۱۳۷۰" in page


def test_arabic_reader_in_a_gregorian_business_types_gregorian_months(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    clock.set(START)
    customer = member(session, settings, email="ar@example.com", language="ar")
    sign_in(client, session, settings, customer)
    assert "فروردین" not in client.get("/portal/preferences").text
    assert _send(client, day="٢٩", month="٢").status_code == 303  # type: ignore[attr-defined]
    assert _held(session, customer)[:4] == (29, 2, None, "gregorian")


def test_the_birthday_reward_cannot_be_gamed_from_the_portal(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    """Give today as the birthday: the cool-off holds the reward; move it to tomorrow:
    refused; a year later the reward comes on the day, once."""
    clock.set(START)
    set_rules(session, birthday={"enabled": True, "points": 100, "cooloff_days": 30})
    customer = member(session, settings, email="gamer@example.com", language="en")
    sign_in(client, session, settings, customer)

    def run(day: date) -> int:
        after = None
        while True:
            n, after = birthdays.grant_batch(session, settings=settings, day=day, after=after)
            if not n:
                break
        session.expire_all()
        return loyalty.status(session, settings=settings, customer_id=customer.id).available

    assert _send(client, day="20", month="4").status_code == 303  # type: ignore[attr-defined]
    assert run(date(2026, 4, 20)) == 0  # given today: within the cool-off
    clock.advance(days=1)
    assert _send(client, day="21", month="4").status_code == 409  # type: ignore[attr-defined]
    assert run(date(2026, 4, 21)) == 0
    clock.set(datetime(2027, 4, 20, 9, tzinfo=UTC))
    assert run(date(2027, 4, 20)) == 100
    assert run(date(2027, 4, 20)) == 100
