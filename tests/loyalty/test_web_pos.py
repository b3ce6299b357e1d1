"""The point of sale screen: its pages and fragments, and the JSON calls pos.js makes with the
dashboard's session cookie (CSRF header, Idempotency-Key)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from tests.web.helpers import csrf_token, html_attrs, logged_in
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.customers.models import ConsentRecord, Customer
from wafa.loyalty import ledger, rewards, service, stamps
from wafa.loyalty.models import Redemption, RewardKind
from wafa.loyalty.schemas.io import RewardCreate, StampCardCreate


def _reward(session: Session, settings: Settings, cost: int = 40, **extra: object) -> uuid.UUID:
    data = {"name": "Free espresso", "kind": RewardKind.gift, "cost_points": cost, **extra}
    reward = rewards.create_reward(
        session, settings=settings, data=RewardCreate.model_validate(data)
    )
    session.flush()
    return reward.id


def _points(session: Session, settings: Settings, customer_id: uuid.UUID, points: int) -> None:
    service.adjust(
        session, settings=settings, customer_id=customer_id, points=points, reason="start", by="t"
    )
    session.flush()


def _js_headers(client: TestClient, key: str | None = None) -> dict[str, str]:
    headers = {"X-CSRF-Token": csrf_token(client, "/pos")}
    if key:
        headers["Idempotency-Key"] = key
    return headers


class TestPosPage:
    def test_a_cashier_opens_the_counter_screen(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        page = client.get("/pos")
        assert page.status_code == 200
        assert 'id="pos-q"' in page.text
        assert "Who is at the counter?" in page.text
        assert 'src="/static/pos.js' in page.text

    def test_a_visitor_is_sent_to_the_login_page(self, client: TestClient) -> None:
        page = client.get("/pos", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=")

    def test_a_deep_link_shows_the_customer_card(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session, name="Sara Karimi")
        _points(session, settings, c.id, 75)
        page = client.get(f"/pos?customer={c.id}")
        assert "Hello, <bdi>Sara</bdi>!" in page.text
        assert 'data-available="75"' in page.text

    def test_persian_is_right_to_left_with_persian_digits(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.cashier, locale="fa")
        c = member(session, name="Sara Karimi")
        _points(session, settings, c.id, 75)
        page = client.get(f"/pos?customer={c.id}")
        assert html_attrs(page.text)["dir"] == "rtl"
        assert '<strong class="pos-points-value" data-pos-available>۷۵</strong>' in page.text
        assert '"numbering": "arabext"' in page.text


class TestPosSearch:
    def test_finds_by_phone_digits_typed_in_persian(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session, name="Sara Karimi", phone="+12025550188")
        found = client.get("/pos/search", params={"q": "۰۱۸۸"})
        assert found.status_code == 200
        assert f'data-customer="{c.id}"' in found.text

    def test_finds_by_phone_digits_typed_in_arabic(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session, name="Omid", phone="+12025550177")
        found = client.get("/pos/search", params={"q": "٠١٧٧"})
        assert f'data-customer="{c.id}"' in found.text

    def test_finds_by_name_with_tier_and_points(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            tiers={
                "enabled": True,
                "levels": [{"code": "base", "name": "Regular", "threshold": 0}],
            },
        )
        logged_in(client, session, role=Role.cashier)
        c = member(session, name="Leila Nasser")
        _points(session, settings, c.id, 12)
        found = client.get("/pos/search", params={"q": "leila"})
        assert f'data-customer="{c.id}"' in found.text
        assert "Regular" in found.text
        assert "<strong>12</strong>" in found.text

    def test_no_match_offers_to_enrol_with_what_was_typed(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        found = client.get("/pos/search", params={"q": "0912 000"})
        assert "No customer matches" in found.text
        assert 'data-prefill="0912 000"' in found.text

    def test_an_empty_query_answers_nothing(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/pos/search", params={"q": "  "}).text.strip() == ""


class TestPosCustomer:
    def test_the_card_shows_points_stamps_rewards_and_coupons(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=14, expiry={"policy": "fixed", "months": 2})
        logged_in(client, session, role=Role.cashier)
        c = member(session, name="Sara Karimi")
        cheap = _reward(session, settings, cost=30)
        _reward(session, settings, cost=500, name="Latte art class")
        stamps.create_card(
            session,
            data=StampCardCreate(
                name="Coffee card", stamps_required=8, categories=["coffee"], reward_id=cheap
            ),
        )
        place(
            session,
            c,
            lines=[
                {
                    "sku": "LAT",
                    "name": "Latte",
                    "category": "coffee",
                    "quantity": 1,
                    "unit_price": 2000,
                }
            ],
        )
        deliver(session, settings)
        _points(session, settings, c.id, 40)
        card = client.get(f"/pos/customers/{c.id}")
        assert card.status_code == 200
        text = card.text
        assert 'data-part="info"' in text and 'data-part="rewards"' in text
        assert 'data-available="40"' in text
        assert "Pending" in text and "<dd>20</dd>" in text
        assert "Coffee card" in text and "1 of 8" in text
        assert "Latte" in text  # a favourite
        assert "Redeem</button>" in text  # the 30-point reward
        assert "460 more" in text  # the 500-point one is out of reach
        assert "points expire on" in text

    def test_an_unknown_customer_is_not_found(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get(f"/pos/customers/{uuid.uuid4()}").status_code == 404


class TestPosCallsTheApiWithTheSession:
    """What pos.js sends: the session cookie, the CSRF header and an Idempotency-Key."""

    def test_a_redemption_returns_the_code_once_whatever_the_retries(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=40)
        _points(session, settings, c.id, 100)
        headers = _js_headers(client, "pos-key-1")
        first = client.post(
            f"/api/v1/customers/{c.id}/redemptions",
            json={"reward_id": str(reward)},
            headers=headers,
        )
        again = client.post(
            f"/api/v1/customers/{c.id}/redemptions",
            json={"reward_id": str(reward)},
            headers=headers,
        )
        assert first.status_code == 201, first.text
        assert again.json()["coupon_code"] == first.json()["coupon_code"]
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert service.status(session, settings=settings, customer_id=c.id).available == 60

    def test_without_the_csrf_header_nothing_is_written(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=40)
        _points(session, settings, c.id, 100)
        refused = client.post(
            f"/api/v1/customers/{c.id}/redemptions", json={"reward_id": str(reward)}
        )
        assert refused.status_code == 403
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0

    def test_insufficient_points_is_a_problem_the_screen_translates(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=400)
        _points(session, settings, c.id, 100)
        refused = client.post(
            f"/api/v1/customers/{c.id}/redemptions",
            json={"reward_id": str(reward)},
            headers=_js_headers(client, "k-short"),
        )
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("insufficient-points")
        assert service.status(session, settings=settings, customer_id=c.id).available == 100
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0
        page = client.get("/pos")
        assert '"insufficient-points": "Not enough points for this reward.' in page.text

    def test_enrolment_records_consent_from_the_counter(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        made = client.post(
            "/api/v1/pos/enrol",
            json={
                "name": "Nadia Saleh",
                "phone": "+12025550166",
                "sms_consent": True,
                "email_consent": False,
            },
            headers=_js_headers(client, "enrol-1"),
        )
        assert made.status_code == 201, made.text
        assert made.json()["greeting_name"] == "Nadia"
        customer = session.get(Customer, uuid.UUID(made.json()["id"]))
        assert customer is not None and customer.sms_consent
        sources = session.scalars(
            select(ConsentRecord.source).where(ConsentRecord.customer_id == customer.id)
        ).all()
        assert sources and all(s.startswith("pos:") for s in sources)

    def test_a_purchase_earns_points_once(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        body = {
            "customer_id": str(c.id),
            "reference": "POS-ABCDEFGHJK",
            "lines": [{"sku": "LAT", "name": "Latte", "quantity": 2, "unit_price": 450}],
        }
        first = client.post(
            "/api/v1/pos/purchases", json=body, headers=_js_headers(client, "sale-1")
        )
        retry = client.post(
            "/api/v1/pos/purchases", json=body, headers=_js_headers(client, "sale-2")
        )
        assert first.status_code == 201, first.text
        assert first.json()["points"] == 9
        assert retry.json()["order_id"] == first.json()["order_id"]
        assert ledger.balance_of(session, c.id, now=clock.now) == (9, 0)


class TestTierProgress:
    def test_spend_based_progress_is_money_not_minor_units(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            pending_days=0,
            tiers={
                "enabled": True,
                "basis": "spend",
                "levels": [
                    {"code": "member", "name": "Member", "threshold": 0},
                    {"code": "silver", "name": "Silver", "threshold": 13_500},
                ],
            },
        )
        c = member(session)
        logged_in(client, session, role=Role.cashier)
        card = client.get(f"/pos/customers/{c.id}").text
        assert "$135.00 more to <bdi>Silver</bdi>" in card
        assert "13,500 more" not in card
        profile = client.get(f"/customers/{c.id}").text
        assert "$135.00 more to <bdi>Silver</bdi>" in profile
