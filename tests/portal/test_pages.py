"""The portal's pages: each shows only the signed-in customer's data; redeem, history,
referral, preferences, export and erasure through the owning domains."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.portal.helpers import member, sign_in
from wafa.core.settings import Settings
from wafa.customers.models import ConsentRecord, Customer
from wafa.loyalty import rewards
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import Reward
from wafa.loyalty.schemas.io import RewardCreate
from wafa.messaging.models import Message

PAGES = (
    "/portal/",
    "/portal/rewards",
    "/portal/history",
    "/portal/referral",
    "/portal/preferences",
)


def _reward(session: Session, settings: Settings, cost: int = 50) -> Reward:
    reward = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(name="Free coffee", kind="discount_fixed", cost_points=cost, amount=450),
    )
    session.flush()
    return reward


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def _redeem_form(client: TestClient) -> dict[str, str]:
    page = client.get("/portal/rewards").text
    return {
        "csrf_token": _csrf(page),
        "reward_id": re.search(r'name="reward_id" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "nonce": re.search(r'name="nonce" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
    }


class TestScope:
    def test_every_page_shows_only_the_signed_in_customer(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        reward = _reward(session, settings)
        mine = member(session, settings, points=60, name="Nika Mine", email="nika@example.com")
        other = member(session, settings, points=90, name="Bahar Other", email="bahar@example.com")
        theirs = loyalty.redeem_reward(
            session, settings=settings, customer_id=other.id, reward_id=reward.id, by="test"
        )
        session.flush()
        sign_in(client, session, settings, mine)
        for path in (*PAGES, "/portal/me/export.json"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert "Bahar" not in page.text and "bahar@" not in page.text, path
        assert "nika@example.com" in client.get("/portal/me/export.json").text
        foreign = client.get(f"/portal/rewards/{theirs.id}")
        assert foreign.status_code == 404 and str(theirs.coupon_code) not in foreign.text

    def test_no_page_opens_without_signing_in(self, client: TestClient) -> None:
        for path in (
            *PAGES,
            "/portal/me/export.json",
            "/portal/rewards/0190e0e0-0000-7000-8000-000000000000",
        ):
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/portal/login?next=")
        for path in ("/portal/rewards", "/portal/preferences", "/portal/me/erase"):
            assert client.post(path, follow_redirects=False).status_code in (303, 422), path


class TestRedeem:
    def test_the_coupon_appears_and_a_second_send_spends_nothing_more(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        _reward(session, settings, cost=50)
        customer = member(session, settings, points=120)
        sign_in(client, session, settings, customer)
        form = _redeem_form(client)
        first = client.post("/portal/rewards", data=form, follow_redirects=False)
        again = client.post("/portal/rewards", data=form, follow_redirects=False)
        assert first.headers["location"] == again.headers["location"]
        shown = client.get(first.headers["location"])
        assert 'data-testid="coupon"' in shown.text and "<svg" in shown.text
        status = loyalty.status(session, settings=settings, customer_id=customer.id)
        assert status.available == 70

    def test_not_enough_points_changes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        reward = _reward(session, settings, cost=50)
        customer = member(session, settings, points=60)
        sign_in(client, session, settings, customer)
        form = _redeem_form(client)
        loyalty.adjust(
            session, settings=settings, customer_id=customer.id, points=-20, reason="x", by="t"
        )
        session.flush()
        answer = client.post("/portal/rewards", data={**form, "reward_id": str(reward.id)})
        assert answer.status_code == 409
        assert loyalty.status(session, settings=settings, customer_id=customer.id).available == 40


class TestPreferences:
    def test_unticking_records_consent_with_source_portal_and_language_changes(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(
            session,
            settings,
            email="pref@example.com",
            consent=[{"channel": "email", "granted": True, "source": "test"}],
        )
        sign_in(client, session, settings, customer)
        token = _csrf(client.get("/portal/preferences").text)
        answer = client.post(
            "/portal/preferences",
            data={
                "csrf_token": token,
                "shown": "email",
                "topic": "email:loyalty",
                "language": "fa",
            },
        )
        assert answer.status_code == 200 and 'lang="fa"' in answer.text
        records = session.scalars(
            select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
        ).all()
        latest = max(records, key=lambda r: r.recorded_at)
        assert (latest.channel, latest.granted, latest.source) == ("email", False, "portal")
        session.expire_all()
        assert session.get(Customer, customer.id).language == "fa"  # type: ignore[union-attr]


class TestMyData:
    def test_erasure_waits_for_the_second_link(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings, points=10, email="gone@example.com")
        sign_in(client, session, settings, customer)
        token = _csrf(client.get("/portal/preferences").text)
        client.post("/portal/me/erase", data={"csrf_token": token})
        [sent] = session.scalars(select(Message).where(Message.reason == "portal-erase")).all()
        path = str(sent.context["link"]).removeprefix(settings.public_url.rstrip("/"))
        assert client.get(path).status_code == 200
        session.expire_all()
        assert session.get(Customer, customer.id).erased_at is None  # type: ignore[union-attr]
        done = client.post(path)
        assert done.status_code == 200
        session.expire_all()
        assert session.get(Customer, customer.id).erased_at is not None  # type: ignore[union-attr]
        assert client.post(path).status_code == 410
        assert client.get("/portal/", follow_redirects=False).status_code == 303


class TestReferralAndHistory:
    def test_referral_link_and_plain_share_links(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        sign_in(client, session, settings, customer)
        page = client.get("/portal/referral").text
        code = re.search(r'data-testid="referral-code">([^<]+)<', page).group(1)  # type: ignore[union-attr]
        assert "https://wa.me/?text=" in page and "https://t.me/share/url" in page
        assert "sms:?&amp;body=" in page and "mailto:?subject=" in page
        assert "<script" not in page
        assert code in client.get(f"/r/{code}").text

    def test_history_says_why_points_came(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings, points=15)
        sign_in(client, session, settings, customer)
        assert "Adjustment by staff: <bdi>welcome</bdi>" in client.get("/portal/history").text
