"""The home page is kept per customer (``portal.pagecache``) and never shown stale.

Each test opens the page (so it is kept), changes one thing the page shows through the
service that owns it, in the test's own session (as another server process would: the
app's kept page is not told), and opens the page again: the change must be on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, place, set_rules
from tests.portal.helpers import member, sign_in
from tests.sqlcount import counting
from wafa.auth import business
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerUpdate
from wafa.loyalty import coupons, ledger, rewards, stamps
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import CouponSource, EntryKind
from wafa.loyalty.schemas.io import RewardCreate, RewardUpdate, StampCardCreate

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)
COFFEE_LINE = {
    "sku": "COF-1",
    "name": "Flat white",
    "quantity": 1,
    "unit_price": 450,
    "category": "coffee",
}


def _home(client: TestClient) -> str:
    answer = client.get("/portal/")
    assert answer.status_code == 200
    return answer.text


def _available(html: str) -> str:
    return html.split('data-testid="available">', 1)[1].split("<", 1)[0]


class TestKept:
    def test_a_second_visit_sends_one_statement_and_shows_the_same_page(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=1250, email="kept@example.com")
        sign_in(client, session, settings, customer)
        first = _home(client)
        with counting() as seen:
            again = _home(client)
        assert again == first
        assert len(seen.queries) == 1, "\n".join(seen.queries)

    def test_each_session_gets_its_own_form_token(
        self, app: FastAPI, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=10, email="two@example.com")
        with TestClient(app) as one, TestClient(app) as two:
            sign_in(one, session, settings, customer)
            sign_in(two, session, settings, customer)
            a, b = _home(one), _home(two)
            token = 'name="csrf_token" value="'
            assert a.split(token, 1)[1][:20] != b.split(token, 1)[1][:20]
            # The kept page's sign-out form works for the second session.
            out = two.post(
                "/portal/logout",
                data={"csrf_token": b.split(token, 1)[1].split('"', 1)[0]},
                headers={"Origin": "http://testserver"},
                follow_redirects=False,
            )
            assert out.status_code == 303
            assert two.get("/portal/", follow_redirects=False).status_code == 303

    def test_another_customers_kept_page_is_never_shown(
        self, app: FastAPI, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        sara = member(session, settings, points=111, email="sara@example.com", name="Sara K")
        omid = member(session, settings, points=222, email="omid@example.com", name="Omid R")
        with TestClient(app) as one, TestClient(app) as two:
            sign_in(one, session, settings, sara)
            sign_in(two, session, settings, omid)
            for _ in range(2):
                assert _available(_home(one)) == "111" and "Sara" in _home(one)
                page = _home(two)
                assert _available(page) == "222" and "Omid" in page and "Sara" not in page


class TestChanged:
    def test_points_booked(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=100, email="p@example.com")
        sign_in(client, session, settings, customer)
        assert _available(_home(client)) == "100"
        loyalty.adjust(
            session, settings=settings, customer_id=customer.id, points=5, reason="x", by="t"
        )
        session.flush()
        assert _available(_home(client)) == "105"

    def test_coupon_issued_then_voided(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=100, email="c@example.com")
        sign_in(client, session, settings, customer)
        assert "Sorry coupon" not in _home(client)
        coupon = coupons.issue(
            session,
            source=CouponSource.compensation,
            name="Sorry coupon",
            discount_kind="discount_percent",
            percent_bp=1000,
            currency="USD",
            now=NOON,
            customer_id=customer.id,
        )
        session.flush()
        assert "Sorry coupon" in _home(client)
        coupons.void(session, code=coupon.code, reason="test", by="t")
        session.flush()
        assert "Sorry coupon" not in _home(client)

    def test_customer_renamed_and_language_changed(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=10, email="n@example.com", name="Sara K")
        sign_in(client, session, settings, customer)
        assert "Sara" in _home(client)
        customers.update_customer(
            session,
            customer_id=customer.id,
            data=CustomerUpdate(name="Mina K"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        session.flush()
        page = _home(client)
        assert "Mina" in page and "Sara" not in page
        customers.update_customer(
            session,
            customer_id=customer.id,
            data=CustomerUpdate(language="fa"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        session.flush()
        assert 'lang="fa" dir="rtl"' in _home(client)

    def test_settings_saved(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=10, email="s@example.com")
        sign_in(client, session, settings, customer)
        assert "#123456" not in _home(client)
        business.save(
            session, base=settings, values={"brand_colour": "#123456"}, orders_exist=False
        )
        session.flush()
        assert "--brand: #123456" in _home(client)

    def test_reward_added_then_out_of_stock(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=1000, email="r@example.com")
        sign_in(client, session, settings, customer)
        assert "Free cake" not in _home(client)
        cake = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Free cake", kind="gift", cost_points=300, stock=5),
        )
        session.flush()
        assert "Free cake" in _home(client)
        rewards.update_reward(
            session, settings=settings, reward_id=cake.id, data=RewardUpdate(stock=0)
        )
        session.flush()
        assert "Free cake" not in _home(client)

    def test_program_saved(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        set_rules(session)
        customer = member(session, settings, points=1000, email="v@example.com")
        sign_in(client, session, settings, customer)
        assert "Worth $10.00" in _home(client)  # the default value of a point
        set_rules(session, point_value_bp=200)
        assert "Worth $0.20" in _home(client)

    def test_stamps_and_badges_from_a_purchase(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        set_rules(
            session,
            badges=[{"code": "first", "name": "First visit", "kind": "visits", "threshold": 1}],
        )
        free = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(
                name="Free coffee",
                kind="free_product",
                cost_points=0,
                product_sku="COF-1",
                in_catalogue=False,
            ),
        )
        stamps.create_card(
            session,
            data=StampCardCreate.model_validate(
                {"name": "Coffee card", "stamps_required": 5, "categories": ["coffee"],
                 "reward_id": free.id}
            ),
        )  # fmt: skip
        customer = member(session, settings, points=10, email="b@example.com")
        sign_in(client, session, settings, customer)
        page = _home(client)
        assert "0 of 5" in page and "First visit" not in page
        place(session, customer, lines=[COFFEE_LINE], placed_at=NOON - timedelta(hours=1))
        deliver(session, settings)
        session.flush()
        page = _home(client)
        assert "1 of 5" in page and "First visit" in page


class TestClock:
    def test_pending_points_count_from_their_instant_with_no_write(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=100, email="t@example.com")
        ledger.lock_account(session, customer.id, zone=settings.zone, now=NOON)
        ledger.credit(
            session,
            customer_id=customer.id,
            kind=EntryKind.earn,
            reason="test",
            occasion="cache:pending",
            lots=[ledger.LotSpec(40, NOON + timedelta(hours=2), None)],
            now=NOON,
        )
        session.flush()
        sign_in(client, session, settings, customer)
        assert _available(_home(client)) == "100"
        clock.set(NOON + timedelta(hours=1, minutes=59))
        assert _available(_home(client)) == "100"
        clock.set(NOON + timedelta(hours=2))
        assert _available(_home(client)) == "140"

    def test_a_new_local_day(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=1000, email="d@example.com")
        cake = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(
                name="Daily cake",
                kind="gift",
                cost_points=100,
                limit_per_customer=1,
                limit_period="day",
            ),
        )
        rewards.redeem(
            session, settings=settings, customer_id=customer.id, reward_id=cake.id, by="t"
        )
        session.flush()
        sign_in(client, session, settings, customer)
        assert "Daily cake" not in _home(client).split("My coupons")[0]
        clock.set(NOON + timedelta(hours=12))  # midnight UTC, the shop's zone
        assert "Daily cake" in _home(client).split("My coupons")[0]


class TestNotKept:
    def test_without_the_catalogue_row_the_page_is_built_every_time(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(NOON)
        customer = member(session, settings, points=100, email="nc@example.com")
        sign_in(client, session, settings, customer)
        session.execute(text("DELETE FROM loyalty_catalogue_version"))
        session.flush()
        _home(client)
        with counting() as seen:
            _home(client)
        assert len(seen.queries) > 1
