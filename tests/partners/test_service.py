"""Partners: codes checked and used at the partner's counter, once; other partners' codes
unknown; expiry; the rate limit on misses; reciprocal codes attributing new customers; the
monthly statement in the business calendar (Gregorian and Jalali)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer, create_order
from tests.partners.helpers import offer_codes, partner
from wafa.core.errors import Conflict, Invalid
from wafa.core.settings import CalendarKind, Settings
from wafa.loyalty import coupons, rewards
from wafa.loyalty.models import Coupon, CouponSource, CouponUse
from wafa.loyalty.schemas.io import RewardCreate
from wafa.partners import service
from wafa.partners.models import Partner, PartnerRedemption, PartnerReferral
from wafa.partners.schemas import CodesIssue, PartnerCreate, PartnerUpdate

IP = "203.0.113.7"


class TestPartnerRecord:
    def test_names_are_unique(self, session: Session, settings: Settings) -> None:
        partner(session, settings)
        with pytest.raises(Conflict):
            partner(session, settings)

    def test_update_changes_only_what_is_given(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings, contact_name="Reza", phone="+98 912 000 0000")
        service.update_partner(session, partner_id=p.id, data=PartnerUpdate(offer_value=500))
        assert (p.offer_value_amount, p.contact_name, p.offer) == (
            500,
            "Reza",
            "A free pastry with any coffee",
        )

    def test_a_linked_reward_must_be_a_partner_offer(
        self, session: Session, settings: Settings
    ) -> None:
        gift = rewards.create_reward(
            session, settings=settings, data=RewardCreate(name="Mug", kind="gift", cost_points=5)
        )
        with pytest.raises(Invalid) as refused:
            partner(session, settings, reward_id=gift.id)
        assert refused.value.errors[0][0] == ("reward_id",)

    def test_bad_email_names_the_field(self, session: Session, settings: Settings) -> None:
        with pytest.raises(Invalid) as refused:
            partner(session, settings, email="not an email")
        assert refused.value.errors[0][0] == ("email",)


class TestCheckAndUse:
    def test_a_code_is_valid_then_used_once(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        check = service.check_code(session, partner_id=p.id, code=code.lower(), ip=IP)
        assert check.status == "valid"
        assert check.offer == "A free pastry with any coffee"
        used = service.use_code(session, partner_id=p.id, code=code, ip=IP)
        assert used.status == "redeemed"
        again = service.use_code(session, partner_id=p.id, code=code, ip=IP)
        assert again.status == "used" and again.used_at == used.used_at
        assert service.check_code(session, partner_id=p.id, code=code, ip=IP).status == "used"
        coupon = coupons.get_coupon(session, code)
        assert coupon.uses == 1
        uses = session.scalar(
            select(func.count()).select_from(CouponUse).where(CouponUse.coupon_id == coupon.id)
        )
        assert uses == 1

    def test_persian_digits_and_dashes_are_read(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        typed = persian[:4] + " - " + persian[4:]
        assert service.check_code(session, partner_id=p.id, code=typed, ip=IP).status == "valid"

    def test_another_partners_code_is_not_found(self, session: Session, settings: Settings) -> None:
        a = partner(session, settings, name="A")
        b = partner(session, settings, name="B")
        (code,) = offer_codes(session, settings, a)
        assert service.check_code(session, partner_id=b.id, code=code, ip=IP).status == "not_found"
        assert service.use_code(session, partner_id=b.id, code=code, ip=IP).status == "not_found"
        assert service.check_code(session, partner_id=a.id, code=code, ip=IP).status == "valid"
        assert session.get(PartnerRedemption, coupons.get_coupon(session, code).id) is None

    def test_a_shop_coupon_is_not_found(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        shop = coupons.issue(
            session,
            source=CouponSource.campaign,
            name="10% off",
            discount_kind="discount_percent",
            percent_bp=1000,
            currency="USD",
            now=datetime.now(UTC),
        )
        assert service.check_code(session, partner_id=p.id, code=shop.code, ip=IP).status == (
            "not_found"
        )

    def test_refused_after_expiry(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p, valid_days=3)
        clock.advance(days=5)
        assert service.check_code(session, partner_id=p.id, code=code, ip=IP).status == "expired"
        assert service.use_code(session, partner_id=p.id, code=code, ip=IP).status == "expired"
        assert coupons.get_coupon(session, code).uses == 0

    def test_a_code_used_at_the_shop_is_used_here(
        self, session: Session, settings: Settings
    ) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        coupons.use(
            session,
            code=code,
            order_ref="till-1",
            customer_id=None,
            subtotal=0,
            now=datetime.now(UTC),
        )
        assert service.use_code(session, partner_id=p.id, code=code, ip=IP).status == "used"

    def test_catalogue_reward_coupons_belong_to_the_linked_partner(
        self, session: Session, settings: Settings
    ) -> None:
        reward = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(
                name="Pastry at Golden Bakery",
                kind="partner_offer",
                partner_name="Golden Bakery",
                cost_points=100,
            ),
        )
        p = partner(session, settings, reward_id=reward.id)
        other = partner(session, settings, name="Other")
        member = create_customer(session)
        coupon = coupons.issue_for_reward(
            session,
            settings=settings,
            reward=reward,
            customer_id=member.id,
            source=CouponSource.reward,
            now=datetime.now(UTC),
        )
        assert service.check_code(session, partner_id=other.id, code=coupon.code, ip=IP).status == (
            "not_found"
        )
        assert service.use_code(session, partner_id=p.id, code=coupon.code, ip=IP).status == (
            "redeemed"
        )


class TestRateLimit:
    def test_misses_stop_checks_then_the_window_moves_on(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        for i in range(service.MISSES):
            assert service.check_code(
                session, partner_id=p.id, code=f"GUESS{i:03d}", ip=IP
            ).status == ("not_found")
        assert service.check_code(session, partner_id=p.id, code=code, ip=IP).status == "limited"
        assert service.use_code(session, partner_id=p.id, code=code, ip=IP).status == "limited"
        clock.advance(minutes=16)
        assert service.check_code(session, partner_id=p.id, code=code, ip=IP).status == "valid"

    def test_real_codes_never_count(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        for _ in range(service.MISSES + 5):
            assert service.check_code(session, partner_id=p.id, code=code, ip=IP).status == "valid"


class TestReciprocal:
    def _codes(self, session: Session, settings: Settings, p: Partner, n: int) -> list[str]:
        data = CodesIssue(direction="reciprocal", count=n, kind="discount_fixed", amount=200)
        issued = service.issue_codes(
            session,
            settings=settings,
            partner_id=p.id,
            data=data,
            by="t",
        )
        return [c.code for c in issued]

    def test_a_new_customer_is_attributed_once(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        first, _second = self._codes(session, settings, p, 2)
        order = create_order(session, coupon_codes=[first.lower()])
        made = service.attribute_order(session, order_id=order.id)
        assert made is not None and made.partner_id == p.id
        assert service.attribute_order(session, order_id=order.id) is not None  # a replay
        count = session.scalar(select(func.count()).select_from(PartnerReferral))
        assert count == 1
        assert service.referral_of(session, order.customer_id) is not None  # type: ignore[arg-type]

    def test_a_returning_customer_is_not_attributed(
        self, session: Session, settings: Settings
    ) -> None:
        p = partner(session, settings)
        (code,) = self._codes(session, settings, p, 1)
        email = "regular@example.com"
        create_order(session, customer={"email": email, "name": "Regular"})
        later = create_order(
            session,
            customer={"email": email, "name": "Regular"},
            coupon_codes=[code],
            placed_at=datetime(2026, 3, 5, 10, 0, tzinfo=UTC).isoformat(),
        )
        assert service.attribute_order(session, order_id=later.id) is None

    def test_reciprocal_needs_what_it_gives(self, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        with pytest.raises(Invalid) as refused:
            service.issue_codes(
                session,
                settings=settings,
                partner_id=p.id,
                data=CodesIssue(direction="reciprocal", count=1, kind="discount_fixed"),
                by="t",
            )
        assert refused.value.errors[0][0] == ("amount",)


class TestStatement:
    def test_a_month_counts_issued_redeemed_and_value(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        p = partner(session, settings)
        codes = offer_codes(session, settings, p, count=3)
        for code in codes[:2]:
            service.use_code(session, partner_id=p.id, code=code, ip=IP)
        clock.advance(days=31)  # April
        service.use_code(session, partner_id=p.id, code=codes[2], ip=IP)
        march = service.statement(session, settings=settings, partner_id=p.id, year=2026, month=3)
        april = service.statement(session, settings=settings, partner_id=p.id, year=2026, month=4)
        assert (march.offer_codes_issued, march.offer_codes_redeemed, march.offer_value) == (
            3,
            2,
            700,
        )
        assert (april.offer_codes_issued, april.offer_codes_redeemed, april.offer_value) == (
            0,
            1,
            350,
        )

    def test_jalali_months_in_the_business_zone(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        tehran = settings.model_copy(
            update={"calendar": CalendarKind.jalali, "timezone": "Asia/Tehran"}
        )
        # 1405-01-01 (Nowruz) is 2026-03-21; it starts at 00:00 Tehran (+03:30).
        start, end = service.month_bounds(tehran, 1405, 1)
        assert start == datetime(2026, 3, 20, 20, 30, tzinfo=UTC)
        assert end - start == timedelta(days=31)
        p = partner(session, tehran)
        clock.set(datetime(2026, 3, 20, 20, 0, tzinfo=UTC))  # 23:30 on the last day of 1404
        offer_codes(session, tehran, p)
        clock.set(datetime(2026, 3, 20, 21, 0, tzinfo=UTC))  # 00:30 on 1405-01-01
        offer_codes(session, tehran, p, count=2)
        esfand = service.statement(session, settings=tehran, partner_id=p.id, year=1404, month=12)
        farvardin = service.statement(session, settings=tehran, partner_id=p.id, year=1405, month=1)
        assert (esfand.offer_codes_issued, farvardin.offer_codes_issued) == (1, 2)

    def test_a_bad_month_names_the_field(self, session: Session, settings: Settings) -> None:
        with pytest.raises(Invalid) as refused:
            service.month_bounds(settings, 2026, 13)
        assert refused.value.errors[0][0] == ("month",)


def test_coupon_table_is_loyaltys(session: Session, settings: Settings) -> None:
    """Codes are loyalty coupons: one row each, single use, the partner's name on them."""
    p = partner(session, settings)
    offer_codes(session, settings, p, count=2)
    rows = list(session.scalars(select(Coupon).where(Coupon.partner_name == p.name)))
    assert len(rows) == 2 and all(r.max_uses == 1 for r in rows)
    _ = PartnerCreate
