"""The loyalty pages of the dashboard: every page and form, roles, CSRF, errors next to fields."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.loyalty import coupons, program, referrals, rewards, service, stamps, streaks
from wafa.loyalty.models import (
    Coupon,
    PointsEntry,
    ProgramVersion,
    Redemption,
    Referral,
    Reward,
    RewardKind,
    StampCard,
)
from wafa.loyalty.schemas.io import CouponCreate, RewardCreate, StampCardCreate
from wafa.web import i18n

MANAGER_PAGES = (
    "/loyalty/program",
    "/loyalty/tiers",
    "/loyalty/rewards",
    "/loyalty/rewards/new",
    "/loyalty/stamp-cards",
    "/loyalty/stamp-cards/new",
    "/loyalty/coupons",
    "/loyalty/coupons/new",
    "/loyalty/referrals",
    "/loyalty/liability",
    "/loyalty/leaderboard",
)


def _reward(session: Session, settings: Settings, cost: int = 40, **extra: object) -> Reward:
    data = {"name": "Free espresso", "kind": RewardKind.gift, "cost_points": cost, **extra}
    reward = rewards.create_reward(
        session, settings=settings, data=RewardCreate.model_validate(data)
    )
    session.flush()
    return reward


def _points(session: Session, settings: Settings, customer_id: uuid.UUID, points: int) -> None:
    service.adjust(
        session, settings=settings, customer_id=customer_id, points=points, reason="start", by="t"
    )
    session.flush()


def _text(html: str) -> str:
    """The page's text without tags (names are wrapped in <bdi>)."""
    return re.sub(r"<[^>]+>", "", html)


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


class TestRoles:
    def test_a_manager_opens_every_loyalty_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        for path in MANAGER_PAGES:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])

    def test_a_cashier_cannot_open_the_settings(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        for path in MANAGER_PAGES:
            assert client.get(path).status_code == 403, path

    def test_a_cashier_cannot_save_the_settings(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        refused = post_form(client, "/loyalty/program", {"name": "Mine"}, page="/pos")
        assert refused.status_code == 403
        assert _count(session, ProgramVersion) == 0

    def test_the_sidebar_has_the_counter_for_cashiers_and_loyalty_for_managers(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        page = client.get("/customers").text
        assert 'href="/pos"' in page and 'href="/loyalty/program"' not in page
        client.cookies.clear()
        logged_in(client, session, role=Role.manager)
        page = client.get("/customers").text
        assert 'href="/loyalty/program"' in page and 'href="/loyalty/liability"' in page

    def test_a_cashier_starts_at_the_counter(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        assert client.get("/", follow_redirects=False).headers["location"] == "/pos"


class TestCsrf:
    def test_a_form_without_its_token_is_refused(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        c = member(session)
        refused = client.post(
            f"/customers/{c.id}/loyalty/adjust", data={"points": "50", "reason": "gift"}
        )
        assert refused.status_code == 403
        assert session.scalar(select(func.count()).select_from(PointsEntry)) == 0


class TestProfilePanel:
    def test_the_customer_page_shows_balance_expiry_ledger_and_tier(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            pending_days=0,
            expiry={"policy": "fixed", "months": 2},
            tiers={
                "enabled": True,
                "levels": [
                    {"code": "base", "name": "Regular", "threshold": 0},
                    {"code": "gold", "name": "Gold", "threshold": 500},
                ],
            },
        )
        logged_in(client, session, role=Role.cashier)
        c = member(session, name="Sara Karimi")
        place(
            session,
            c,
            number="T-77",
            lines=[{"sku": "LAT", "name": "Latte", "quantity": 1, "unit_price": 4200}],
        )
        deliver(session, settings)
        page = client.get(f"/customers/{c.id}")
        assert 'id="loyalty"' in page.text
        text = _text(page.text)
        assert "Points for order T-77" in text
        assert "Base points" in text and "rules v1" in text
        assert "42 points expire on May 15, 2026" in text
        assert "458 more to Gold" in text
        assert "Adjust points" not in text  # cashiers do not adjust

    def test_a_manager_sees_the_adjustment_form(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        c = member(session)
        page = client.get(f"/customers/{c.id}")
        assert f'action="/customers/{c.id}/loyalty/adjust"' in page.text

    def test_loyalty_events_have_labels_on_the_timeline(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        place(session, c)
        deliver(session, settings)
        assert "Points earned" in client.get(f"/customers/{c.id}").text


class TestCustomerLedger:
    def test_lists_every_entry_with_its_reason_and_pages(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        for i in range(55):
            service.adjust(
                session,
                settings=settings,
                customer_id=c.id,
                points=1,
                reason=f"visit {i}",
                by="staff:x@example.com",
            )
        page = client.get(f"/customers/{c.id}/loyalty")
        assert page.status_code == 200
        assert "Adjustment by staff: visit 54" in _text(page.text)
        assert "visit 4\n" not in _text(page.text)
        assert 'rel="next"' in page.text
        cursor = page.text.split("cursor=")[1].split('"')[0]
        older = client.get(f"/customers/{c.id}/loyalty", params={"cursor": cursor})
        assert "Adjustment by staff: visit 4\n" in _text(older.text)


class TestAdjustPoints:
    def test_a_manager_adds_points_with_a_reason(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        user = logged_in(client, session, role=Role.manager)
        c = member(session)
        done = post_form(
            client,
            f"/customers/{c.id}/loyalty/adjust",
            {"points": "۵۰", "reason": "Spilled coffee"},
        )
        assert done.status_code == 303
        entry = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == c.id)).one()
        assert (entry.points, entry.note, entry.created_by) == (
            50,
            "Spilled coffee",
            f"staff:{user.email}",
        )
        assert "50 points added." in client.get(done.headers["location"]).text

    def test_a_missing_reason_is_shown_next_to_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        c = member(session)
        page = post_form(
            client, f"/customers/{c.id}/loyalty/adjust", {"points": "50", "reason": " "}
        )
        assert page.status_code == 422
        assert 'id="reason-error"' in page.text and "This is required." in page.text
        assert _count(session, PointsEntry) == 0

    def test_removing_more_than_the_balance_changes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        c = member(session)
        _points(session, settings, c.id, 30)
        page = post_form(
            client, f"/customers/{c.id}/loyalty/adjust", {"points": "-80", "reason": "typo"}
        )
        assert page.status_code == 409
        assert "The customer has only 30 points available; nothing was taken." in page.text
        assert service.status(session, settings=settings, customer_id=c.id).available == 30

    def test_a_cashier_cannot_adjust(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        refused = post_form(
            client, f"/customers/{c.id}/loyalty/adjust", {"points": "5", "reason": "x"}
        )
        assert refused.status_code == 403


class TestRedeemReward:
    def test_redeeming_shows_the_coupon_code(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=40)
        _points(session, settings, c.id, 100)
        done = post_form(client, f"/customers/{c.id}/loyalty/redeem", {"reward_id": str(reward.id)})
        assert done.status_code == 303
        redemption = session.scalars(select(Redemption)).one()
        code = service.customer_redemptions(session, customer_id=c.id)[0].coupon_code
        assert redemption.points == 40 and code
        assert code in client.get(done.headers["location"]).text
        assert service.status(session, settings=settings, customer_id=c.id).available == 60

    def test_insufficient_points_say_so_and_change_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=400, name="Latte art class")
        _points(session, settings, c.id, 100)
        done = post_form(
            client,
            f"/customers/{c.id}/loyalty/redeem",
            {"reward_id": str(reward.id), "next": f"/pos?customer={c.id}"},
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/pos?customer={c.id}"
        page = client.get(done.headers["location"]).text
        assert (
            "Not enough points: Latte art class needs 400 points and the customer has 100. Nothing was taken."
            in page
        )
        assert _count(session, Redemption) == 0
        assert _count(session, Coupon) == 0
        assert service.status(session, settings=settings, customer_id=c.id).available == 100

    def test_an_offsite_next_is_ignored(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=10)
        _points(session, settings, c.id, 10)
        done = post_form(
            client,
            f"/customers/{c.id}/loyalty/redeem",
            {"reward_id": str(reward.id), "next": "//evil.example/"},
        )
        assert done.headers["location"] == f"/customers/{c.id}#loyalty"


class TestCancelRedemption:
    def test_the_points_come_back(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        reward = _reward(session, settings, cost=40)
        _points(session, settings, c.id, 100)
        redemption = service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
        )
        done = post_form(client, f"/loyalty/redemptions/{redemption.id}/cancel", {})
        assert done.status_code == 303
        assert service.status(session, settings=settings, customer_id=c.id).available == 100
        assert "40 points are back" in client.get(done.headers["location"]).text


class TestReferralCodeAndLeaderboardChoice:
    def test_a_referral_code_is_made_on_request(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        done = post_form(client, f"/customers/{c.id}/loyalty/referral-code", {})
        code = service.status(session, settings=settings, customer_id=c.id).referral_code
        assert done.status_code == 303 and code
        assert code in client.get(f"/customers/{c.id}").text

    def test_the_customer_joins_and_leaves_the_leaderboard(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        c = member(session)
        post_form(client, f"/customers/{c.id}/loyalty/leaderboard", {"opt_in": "yes"})
        assert "On the leaderboard" in client.get(f"/customers/{c.id}").text
        post_form(client, f"/customers/{c.id}/loyalty/leaderboard", {"opt_in": ""})
        assert "Not on the leaderboard" in client.get(f"/customers/{c.id}").text


def _program_form(client: TestClient, **changes: str) -> dict[str, str]:
    """The settings form as the page fills it, with ``changes``."""
    page = client.get("/loyalty/program").text
    values: dict[str, str] = {}
    for name, value in re.findall(
        r'<input id="f-[^"]*" name="([^"]+)" type="text" value="([^"]*)"', page
    ):
        values[name] = value
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="yes" checked', page):
        values[name] = "yes"
    for name, value in re.findall(
        r'<input type="radio" name="([^"]+)" value="([^"]+)" checked', page
    ):
        values[name] = value
    for name, body in re.findall(
        r'<select id="f-[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', page, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        values[name] = chosen.group(1) if chosen else ""
    values.update(changes)
    return values


class TestSaveProgram:
    def test_saving_adds_a_version_that_applies_from_now(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.owner)
        form = _program_form(
            client, earn_points="15", earn_per="10.00", pending_days="7", note="Spring rules"
        )
        done = post_form(client, "/loyalty/program", form, page="/loyalty/program")
        assert done.status_code == 303, done.text[:2000]
        current = program.rules_at(session, settings)
        assert (current.version, current.rules.earning.rate_bp, current.rules.pending_days) == (
            1,
            150,
            7,
        )
        page = client.get("/loyalty/program").text
        assert "Spring rules" in page and "In force" in page
        assert "15 points for every $10.00" in page

    def test_errors_are_shown_next_to_their_fields_and_nothing_is_saved(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.owner)
        form = _program_form(client, pending_days="a week", earn_per="3.00", expiry_months="0")
        page = post_form(client, "/loyalty/program", form, page="/loyalty/program")
        assert page.status_code == 422
        assert 'id="pending_days-error"' in page.text and "Enter a whole number." in page.text
        assert 'id="earn_per-error"' in page.text and "whole rate" in page.text
        assert 'id="expiry_months-error"' in page.text
        assert 'value="a week"' in page.text  # what was typed stays
        assert _count(session, ProgramVersion) == 0

    def test_a_birthday_reward_must_exist(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.owner)
        form = _program_form(client, birthday_reward=str(uuid.uuid4()))
        page = post_form(client, "/loyalty/program", form, page="/loyalty/program")
        assert page.status_code == 422
        assert 'id="birthday_reward-error"' in page.text
        assert _count(session, ProgramVersion) == 0


def _tier_form(**extra: str) -> dict[str, str]:
    form = {
        "enabled": "yes",
        "basis": "points",
        "window": "rolling",
        "window_months": "12",
        "hold_months": "12",
        "grace_days": "30",
        "downgrade": "one_down",
        "rows": "3",
        "name_0": "Regular",
        "code_0": "regular",
        "threshold_0": "0",
        "multiplier_0": "1",
        "name_1": "Gold",
        "code_1": "gold",
        "threshold_1": "100",
        "multiplier_1": "1.5",
    }
    form.update(extra)
    return form


class TestTiers:
    def test_the_preview_shows_who_would_move_and_saves_nothing(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        logged_in(client, session, role=Role.manager)
        big = member(session, name="Big Spender")
        place(
            session, big, lines=[{"sku": "B", "name": "Beans", "quantity": 1, "unit_price": 20000}]
        )
        member(session, name="Small Spender")
        deliver(session, settings)
        page = post_form(
            client, "/loyalty/tiers", _tier_form(action="preview"), page="/loyalty/tiers"
        )
        assert page.status_code == 200
        assert "If you save" in page.text
        assert "Big Spender" in page.text and "Gold" in page.text
        assert 'name="previewed" value="' in page.text
        assert program.rules_at(session, settings).version == 1

    def test_saving_the_previewed_tiers_adds_a_version(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        logged_in(client, session, role=Role.manager)
        preview = post_form(
            client, "/loyalty/tiers", _tier_form(action="preview"), page="/loyalty/tiers"
        )
        fingerprint = preview.text.split('name="previewed" value="')[1].split('"')[0]
        done = post_form(
            client,
            "/loyalty/tiers",
            _tier_form(action="save", previewed=fingerprint),
            page="/loyalty/tiers",
        )
        assert done.status_code == 303
        tiers = program.rules_at(session, settings).rules.tiers
        assert [(t.code, t.threshold, t.earn_multiplier_bp) for t in tiers.levels] == [
            ("regular", 0, 10000),
            ("gold", 100, 15000),
        ]

    def test_tiers_changed_after_the_preview_are_previewed_again(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        preview = post_form(
            client, "/loyalty/tiers", _tier_form(action="preview"), page="/loyalty/tiers"
        )
        fingerprint = preview.text.split('name="previewed" value="')[1].split('"')[0]
        again = post_form(
            client,
            "/loyalty/tiers",
            _tier_form(action="save", previewed=fingerprint, threshold_1="50"),
            page="/loyalty/tiers",
        )
        assert again.status_code == 200
        assert "changed since the last preview" in again.text
        assert _count(session, ProgramVersion) == 0

    def test_thresholds_out_of_order_are_shown_on_the_row(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        page = post_form(
            client,
            "/loyalty/tiers",
            _tier_form(action="preview", threshold_1="0"),
            page="/loyalty/tiers",
        )
        assert page.status_code == 422
        assert "Each tier needs a higher threshold than the tier before it." in page.text
        assert _count(session, ProgramVersion) == 0


class TestRewards:
    def test_a_manager_adds_a_reward(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        done = post_form(
            client,
            "/loyalty/rewards/new",
            {
                "name": "$5 off",
                "kind": "discount_fixed",
                "cost_points": "100",
                "amount": "5",
                "stock": "20",
                "valid_until": "2026-12-31",
            },
            page="/loyalty/rewards/new",
        )
        assert done.status_code == 303
        reward = session.scalars(select(Reward)).one()
        assert (reward.amount, reward.stock, reward.cost_points) == (500, 20, 100)
        assert reward.valid_until is not None and reward.valid_until.isoformat().startswith(
            "2027-01-01"
        )
        assert "$5 off" in client.get("/loyalty/rewards").text

    def test_a_money_off_reward_needs_its_amount(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        page = post_form(
            client,
            "/loyalty/rewards/new",
            {"name": "Money", "kind": "discount_fixed", "cost_points": "100"},
            page="/loyalty/rewards/new",
        )
        assert page.status_code == 422
        assert 'id="amount-error"' in page.text and "needs the amount" in page.text
        assert _count(session, Reward) == 0

    def test_a_free_reward_in_the_catalogue_asks_for_a_limit_next_to_the_field(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager, locale="fa")
        form = {"name": "Croissant", "kind": "gift", "cost_points": "0", "in_catalogue": "yes"}
        page = post_form(client, "/loyalty/rewards/new", form, page="/loyalty/rewards/new")
        assert page.status_code == 422
        assert 'id="limit_per_customer-error"' in page.text
        assert "جایزهٔ رایگانِ فهرست به سقفی برای هر مشتری نیاز دارد" in page.text
        assert _count(session, Reward) == 0
        done = post_form(
            client,
            "/loyalty/rewards/new",
            form | {"limit_per_customer": "۱", "limit_period": "year"},
            page="/loyalty/rewards/new",
        )
        assert done.status_code == 303
        made = session.scalars(select(Reward)).one()
        assert (made.in_catalogue, made.limit_per_customer, made.limit_period) == (True, 1, "year")
        gift = {"name": "Birthday cake", "kind": "gift", "cost_points": "0"}  # not ticked
        assert (
            post_form(client, "/loyalty/rewards/new", gift, page="/loyalty/rewards/new").status_code
            == 303
        )
        listing = client.get("/loyalty/rewards").text
        assert i18n.gettext("fa", "Given by the program") in listing

    def test_a_jalali_validity_date_in_persian_digits(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager, locale="fa")
        done = post_form(
            client,
            "/loyalty/rewards/new",
            {"name": "چای", "kind": "gift", "cost_points": "۵۰", "valid_from": "۱۴۰۵/۰۱/۰۱"},
            page="/loyalty/rewards/new",
        )
        assert done.status_code == 303
        reward = session.scalars(select(Reward)).one()
        assert (
            reward.valid_from is not None and reward.valid_from.date().isoformat() == "2026-03-21"
        )

    def test_editing_keeps_the_kind(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        reward = _reward(session, settings, cost=40)
        form = client.get(f"/loyalty/rewards/{reward.id}")
        assert form.status_code == 200 and 'value="Free espresso"' in form.text
        done = post_form(
            client,
            f"/loyalty/rewards/{reward.id}",
            {"name": "Free tea", "cost_points": "35", "stock": ""},
            page="/loyalty/rewards",
        )
        assert done.status_code == 303
        session.refresh(reward)
        assert (reward.name, reward.cost_points, reward.kind, reward.stock) == (
            "Free tea",
            35,
            "gift",
            None,
        )

    def test_turning_a_reward_off(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        reward = _reward(session, settings)
        post_form(
            client, f"/loyalty/rewards/{reward.id}/active", {"active": ""}, page="/loyalty/rewards"
        )
        session.refresh(reward)
        assert reward.active is False


class TestStampCards:
    def test_a_manager_adds_a_card(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        reward = _reward(session, settings)
        done = post_form(
            client,
            "/loyalty/stamp-cards/new",
            {
                "name": "Coffee card",
                "stamps_required": "9",
                "per": "item",
                "categories": "Coffee، Tea",
                "reward_id": str(reward.id),
                "active": "yes",
            },
            page="/loyalty/stamp-cards/new",
        )
        assert done.status_code == 303
        card = session.scalars(select(StampCard)).one()
        assert (card.stamps_required, card.per, card.categories) == (9, "item", ["Coffee", "Tea"])

    def test_a_card_needs_products_or_categories(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        reward = _reward(session, settings)
        page = post_form(
            client,
            "/loyalty/stamp-cards/new",
            {"name": "Card", "stamps_required": "9", "reward_id": str(reward.id)},
            page="/loyalty/stamp-cards/new",
        )
        assert page.status_code == 422
        assert 'id="skus-error"' in page.text
        assert _count(session, StampCard) == 0

    def test_editing_a_card(self, client: TestClient, session: Session, settings: Settings) -> None:
        logged_in(client, session, role=Role.manager)
        reward = _reward(session, settings)
        card = stamps.create_card(
            session,
            data=StampCardCreate(name="Card", stamps_required=8, skus=["ESP"], reward_id=reward.id),
        )
        assert client.get(f"/loyalty/stamp-cards/{card.id}").status_code == 200
        done = post_form(
            client,
            f"/loyalty/stamp-cards/{card.id}",
            {
                "name": "Espresso card",
                "stamps_required": "10",
                "skus": "ESP",
                "reward_id": str(reward.id),
            },
            page="/loyalty/stamp-cards",
        )
        assert done.status_code == 303
        session.refresh(card)
        assert (card.name, card.stamps_required, card.active) == ("Espresso card", 10, False)


class TestCoupons:
    def test_a_campaign_code_with_limits(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        done = post_form(
            client,
            "/loyalty/coupons/new",
            {
                "name": "Spring",
                "code": "spring-10",
                "kind": "discount_percent",
                "percent": "10",
                "max_uses": "100",
                "per_customer_limit": "1",
                "min_order_amount": "15",
            },
            page="/loyalty/coupons/new",
        )
        assert done.status_code == 303
        coupon = session.scalars(select(Coupon)).one()
        assert (
            coupon.code,
            coupon.percent_bp,
            coupon.max_uses,
            coupon.per_customer_limit,
            coupon.min_order_amount,
        ) == ("SPRING10", 1000, 100, 1, 1500)
        assert "SPRING10" in client.get("/loyalty/coupons").text

    def test_a_taken_code_is_shown_on_its_field(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        coupons.create_campaign(
            session, settings=settings, data=CouponCreate(name="A", code="SAME", amount=100), by="t"
        )
        page = post_form(
            client,
            "/loyalty/coupons/new",
            {"name": "B", "code": "same", "kind": "discount_fixed", "amount": "1", "max_uses": "1"},
            page="/loyalty/coupons/new",
        )
        assert page.status_code == 409
        assert 'id="code-error"' in page.text and "This code is taken." in page.text
        assert _count(session, Coupon) == 1

    def test_voiding_a_code(self, client: TestClient, session: Session, settings: Settings) -> None:
        logged_in(client, session, role=Role.manager)
        coupon = coupons.create_campaign(
            session,
            settings=settings,
            data=CouponCreate(name="A", code="GONE10", amount=100),
            by="t",
        )
        done = post_form(
            client, "/loyalty/coupons/GONE10/void", {"reason": "leaked"}, page="/loyalty/coupons"
        )
        assert done.status_code == 303
        session.refresh(coupon)
        assert coupon.status == "voided"

    def test_a_reward_coupon_is_cancelled_from_its_redemption_instead(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.manager)
        c = member(session)
        reward = _reward(session, settings, cost=10)
        _points(session, settings, c.id, 10)
        redemption = service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
        )
        done = post_form(
            client, f"/loyalty/coupons/{redemption.coupon_code}/void", {}, page="/loyalty/coupons"
        )
        assert "cancel the redemption" in client.get(done.headers["location"]).text
        assert session.scalars(select(Coupon)).one().status == "active"


class TestReferrals:
    def _held(self, session: Session, settings: Settings) -> Referral:
        set_rules(
            session,
            pending_days=0,
            referral={"enabled": True, "referee_points": 20, "referrer_points": 40},
        )
        referrer = member(session, name="Omid Haddad", address="12 Rose Street")
        friend = member(session, name="Kaveh Haddad", address="12 Rose Street")
        code = referrals.referral_code(session, settings=settings, customer_id=referrer.id)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        place(session, friend)
        deliver(session, settings)
        referral = session.scalars(select(Referral)).one()
        assert referral.status == "review"
        return referral

    def test_the_queue_shows_why_a_referral_is_held(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        self._held(session, settings)
        logged_in(client, session, role=Role.manager)
        page = client.get("/loyalty/referrals").text
        assert "Omid Haddad" in page and "Kaveh Haddad" in page
        assert "Same email, phone or address as the referrer" in page

    def test_a_referral_waiting_for_a_first_purchase_says_so_on_its_row(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, referral={"enabled": True, "referee_points": 20})
        referrer, friend = member(session, name="Omid"), member(session, name="Nima")
        code = referrals.referral_code(session, settings=settings, customer_id=referrer.id)
        referrals.apply_code(session, settings=settings, referee_id=friend.id, code=code)
        logged_in(client, session, role=Role.manager)
        page = client.get("/loyalty/referrals?status=pending").text
        row = page[page.index('class="review-card"') :]
        assert "Can be approved once the friend makes a first purchase." in row
        assert "/approve" not in row

    def test_approving_pays_both_sides(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referral = self._held(session, settings)
        logged_in(client, session, role=Role.manager)
        done = post_form(
            client,
            f"/loyalty/referrals/{referral.id}/approve",
            {"note": "They are brothers"},
            page="/loyalty/referrals",
        )
        assert done.status_code == 303
        session.refresh(referral)
        assert (referral.status, referral.review_note) == ("rewarded", "They are brothers")

    def test_rejecting_needs_a_reason(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        referral = self._held(session, settings)
        logged_in(client, session, role=Role.manager)
        done = post_form(
            client,
            f"/loyalty/referrals/{referral.id}/reject",
            {"note": ""},
            page="/loyalty/referrals",
        )
        assert (
            "Say why the referral is rejected." in client.get("/loyalty/referrals").text
            or done.status_code == 303
        )
        session.refresh(referral)
        assert referral.status == "review"
        post_form(
            client,
            f"/loyalty/referrals/{referral.id}/reject",
            {"note": "Same person"},
            page="/loyalty/referrals",
        )
        session.refresh(referral)
        assert (referral.status, referral.review_note) == ("rejected", "Same person")


class TestLiability:
    def test_outstanding_points_in_money_and_as_csv(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session, role=Role.owner)
        c = member(session)
        _points(session, settings, c.id, 1234)
        page = client.get("/loyalty/liability").text
        assert "$12.34" in page
        sheet = client.get("/loyalty/liability.csv")
        assert sheet.headers["content-type"].startswith("text/csv")
        assert "outstanding_value,12.34" in sheet.text
        assert "outstanding_points,1234" in sheet.text


class TestLeaderboard:
    def test_only_members_who_agreed_by_first_name_and_initial(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        logged_in(client, session, role=Role.manager)
        shown = member(session, name="Sara Karimi")
        hidden = member(session, name="Omid Haddad")
        for c in (shown, hidden):
            place(session, c)
        deliver(session, settings)
        streaks.set_opt_in(session, settings=settings, customer_id=shown.id, opt_in=True)
        page = client.get("/loyalty/leaderboard").text
        assert "Sara K." in page and "Omid" not in page
        assert client.get("/loyalty/leaderboard", params={"month": "2026-02"}).status_code == 200
        assert client.get("/loyalty/leaderboard", params={"month": "garbage"}).status_code == 200


class TestOverrideTier:
    def test_a_manager_keeps_a_member_at_a_tier_until_a_day(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            tiers={
                "enabled": True,
                "levels": [
                    {"code": "base", "name": "Regular", "threshold": 0},
                    {"code": "gold", "name": "Gold", "threshold": 500},
                ],
            },
        )
        logged_in(client, session, role=Role.manager)
        c = member(session)
        assert "Keep at a tier" in client.get(f"/customers/{c.id}/loyalty/adjust").text
        done = post_form(
            client,
            f"/customers/{c.id}/loyalty/tier",
            {"tier": "gold", "until": "2026-06-30", "override_reason": "Opening week VIP"},
            page=f"/customers/{c.id}/loyalty/adjust",
        )
        assert done.status_code == 303
        status = service.status(session, settings=settings, customer_id=c.id)
        assert status.tier == "gold"
        assert status.tier_info is not None
        assert status.tier_info.override_until is not None
        assert status.tier_info.override_until.isoformat() == "2026-06-30"

    def test_a_reason_is_required(self, client: TestClient, session: Session) -> None:
        set_rules(
            session,
            tiers={"enabled": True, "levels": [{"code": "gold", "name": "Gold", "threshold": 0}]},
        )
        logged_in(client, session, role=Role.manager)
        c = member(session)
        page = post_form(
            client, f"/customers/{c.id}/loyalty/tier", {"tier": "gold"}, page="/loyalty/tiers"
        )
        assert page.status_code == 422
        assert 'id="override_reason-error"' in page.text


class TestLedgerTab:
    def test_a_running_balance_and_the_day_pending_points_become_spendable(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=14)
        c = member(session)
        place(session, c, lines=[{"sku": "A", "name": "A", "quantity": 1, "unit_price": 1000}])
        deliver(session, settings)
        clock.advance(hours=1)
        _points(session, settings, c.id, 25)
        logged_in(client, session, role=Role.cashier)
        page = client.get(f"/customers/{c.id}/loyalty").text
        rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]  # the header row aside
        balances = [re.findall(r'<td class="num">([^<]*)</td>', row)[-1] for row in rows]
        assert balances == ["35", "10"]  # newest first: after the +25, after the order's +10
        assert "Pending: spendable from Mar 29, 2026" in rows[1]
        assert "Pending" not in rows[0]
        panel = client.get(f"/customers/{c.id}").text
        assert "Pending: spendable from Mar 29, 2026" in panel


class TestProfileHistory:
    """The profile's History was 95% bare "Points earned" lines and no orders."""

    def test_orders_with_their_points_folded_in(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        c = member(session)
        for n in (1, 2, 3):
            place(
                session,
                c,
                number=f"#70{n}",
                lines=[{"sku": "A", "name": "A", "quantity": 1, "unit_price": n * 1000}],
            )
            clock.advance(hours=1)
        deliver(session, settings)
        logged_in(client, session, role=Role.cashier)
        page = client.get(f"/customers/{c.id}").text
        history = page[page.index('id="history"') :]
        history = history[: history.index("</ol>")]
        items = re.findall(r'<li class="tl-item k-(\w+)">(.*?)</li>', history, re.S)
        orders = [body for kind, body in items if kind == "order"]
        assert len(orders) == 3
        assert [re.search(r"<strong>([^<]*)</strong>", o).group(1) for o in orders] == [  # type: ignore[union-attr]
            "+30",
            "+20",
            "+10",
        ]
        assert all('data-folded="points.earned"' in o for o in orders)
        assert [kind for kind, _ in items].count("event") == 0  # no bare "Points earned" lines
