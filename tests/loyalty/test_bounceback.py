"""Bounce-back offers: which purchases qualify, the next-local-day window, once per order,
imported history, the holdout, the confirmation message. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import make_settings
from tests.loyalty.helpers import member, place
from wafa.core import errors
from wafa.core.settings import Settings
from wafa.flows.engine import order_context
from wafa.flows.presets import PRESETS
from wafa.loyalty import accrual, coupons, members
from wafa.loyalty.bounceback import service as bounceback
from wafa.loyalty.bounceback.schemas import RuleCreate
from wafa.loyalty.models import BounceBackGrant, Coupon, CouponSource
from wafa.loyalty.orderfacts import order_facts
from wafa.messaging.rendering import render_source
from wafa.orders import service as orders
from wafa.orders.models import OrderStatus
from wafa.orders.schemas import OrderStatusUpdate


def rule(session: Session, **values: Any) -> Any:
    data: dict[str, Any] = {
        "name": "10% off your next visit",
        "kind": "discount_percent",
        "percent_bp": 1000,
        "valid_days": 14,
        "holdout_percent": 0,
    }
    data.update(values)
    return bounceback.create_rule(session, data=RuleCreate.model_validate(data), by="test")


def grants(session: Session) -> list[BounceBackGrant]:
    return list(session.scalars(select(BounceBackGrant)))


def issued(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.source == CouponSource.bounce_back)
        )
        or 0
    )


def buy(
    session: Session, settings: Settings, customer: Any = None, *, imported: bool = False, **kw: Any
) -> Any:
    customer = customer or member(session)
    order = place(session, customer, **kw)
    accrual.accrue_order(session, settings=settings, order_id=order.id, imported=imported)
    return order


class TestWindow:
    """Valid from the first instant of the next local day, for N local days."""

    @pytest.mark.parametrize(
        ("zone", "placed", "first"),
        [
            # Tehran is UTC+03:30: 20:29 UTC is 23:59 on the 6th, 20:31 UTC is 00:01 on the 7th.
            ("Asia/Tehran", datetime(2026, 12, 6, 20, 29, tzinfo=UTC), date(2026, 12, 7)),
            ("Asia/Tehran", datetime(2026, 12, 6, 20, 31, tzinfo=UTC), date(2026, 12, 8)),
            # Los Angeles is UTC-08:00 in December: 07:59 UTC is 23:59 on the 5th.
            ("America/Los_Angeles", datetime(2026, 12, 6, 7, 59, tzinfo=UTC), date(2026, 12, 6)),
            ("America/Los_Angeles", datetime(2026, 12, 6, 8, 1, tzinfo=UTC), date(2026, 12, 7)),
            # Across the spring change (8 March 2026): the next day starts at local midnight.
            ("America/Los_Angeles", datetime(2026, 3, 8, 7, 59, tzinfo=UTC), date(2026, 3, 8)),
        ],
    )
    def test_next_local_day_around_midnight(
        self, session: Session, settings: Settings, zone: str, placed: datetime, first: date
    ) -> None:
        local = make_settings(settings.database_url, timezone=zone, calendar="jalali")
        rule(session, valid_days=7)
        order = buy(session, local, placed_at=placed)
        (grant,) = grants(session)
        start = datetime.combine(first, datetime.min.time(), tzinfo=local.zone)
        assert grant.valid_from == start.astimezone(UTC)
        end = datetime.combine(first + timedelta(days=7), datetime.min.time(), tzinfo=local.zone)
        assert grant.expires_at == end.astimezone(UTC)
        offer = bounceback.coupon_for_order(session, settings=local, order_id=order.id)
        assert offer is not None
        assert offer.first_day == first
        assert offer.last_day == first + timedelta(days=6)

    def test_jalali_dates_in_the_business_calendar(
        self, session: Session, settings: Settings
    ) -> None:
        tehran = make_settings(settings.database_url, timezone="Asia/Tehran", calendar="jalali")
        rule(session, valid_days=10)
        # 23:59 on 15 Azar 1405 (6 December 2026) in Tehran: valid from 16 Azar to 25 Azar.
        order = buy(session, tehran, placed_at=datetime(2026, 12, 6, 20, 29, tzinfo=UTC))
        context = order_context(session, tehran, str(order.id))
        assert context["bounce_back"]["valid_from"] == "1405/09/16"
        assert context["bounce_back"]["valid_until"] == "1405/09/25"

    def test_not_usable_on_the_day_it_was_earned(
        self, session: Session, settings: Settings, clock: Any
    ) -> None:
        customer = member(session)
        rule(session)
        order = buy(session, settings, customer, placed_at=clock.now)
        offer = bounceback.coupon_for_order(session, settings=settings, order_id=order.id)
        assert offer is not None
        check = coupons.validate(session, code=offer.code, customer_id=customer.id, subtotal=1000)
        assert (check.valid, check.reason) == (False, "not_yet_valid")
        clock.set(offer.valid_from)
        check = coupons.validate(session, code=offer.code, customer_id=customer.id, subtotal=1000)
        assert check.valid and check.discount == 100
        clock.set(offer.expires_at)
        check = coupons.validate(session, code=offer.code, customer_id=customer.id, subtotal=1000)
        assert check.reason == "expired"


class TestQualifying:
    def test_minimum_amount(self, session: Session, settings: Settings) -> None:
        rule(session, min_amount=1500)
        buy(session, settings, lines=[{"sku": "A", "name": "A", "quantity": 1, "unit_price": 1499}])
        assert grants(session) == []
        buy(session, settings, lines=[{"sku": "A", "name": "A", "quantity": 1, "unit_price": 1500}])
        assert len(grants(session)) == 1

    def test_category_and_product(self, session: Session, settings: Settings) -> None:
        rule(session, category="Pastry")
        buy(
            session,
            settings,
            lines=[
                {"sku": "C", "name": "C", "quantity": 1, "unit_price": 500, "category": "coffee"}
            ],
        )
        assert grants(session) == []
        buy(
            session,
            settings,
            lines=[
                {"sku": "P", "name": "P", "quantity": 1, "unit_price": 500, "category": "pastry"}
            ],
        )
        assert len(grants(session)) == 1

    def test_product(self, session: Session, settings: Settings) -> None:
        rule(session, product_sku="BEANS-1KG")
        buy(session, settings)
        assert grants(session) == []
        buy(
            session,
            settings,
            lines=[{"sku": "BEANS-1KG", "name": "Beans", "quantity": 1, "unit_price": 2500}],
        )
        assert len(grants(session)) == 1

    def test_first_purchase_only(self, session: Session, settings: Settings, clock: Any) -> None:
        rule(session, first_purchase_only=True)
        customer = member(session)
        first = buy(session, settings, customer, placed_at=clock.now)
        buy(session, settings, customer, placed_at=clock.advance(days=3))
        assert [g.order_id for g in grants(session)] == [first.id]

    def test_imported_history_counts_as_a_purchase_before(
        self, session: Session, settings: Settings, clock: Any
    ) -> None:
        rule(session, first_purchase_only=True)
        customer = member(session)
        buy(session, settings, customer, imported=True, placed_at=clock.now - timedelta(days=300))
        buy(session, settings, customer, placed_at=clock.now)
        assert grants(session) == []

    def test_channel(self, session: Session, settings: Settings) -> None:
        rule(session, channel="in_store")
        buy(session, settings, channel="online")
        assert grants(session) == []
        buy(session, settings, channel="in_store")
        assert len(grants(session)) == 1

    def test_imported_history_issues_nothing(self, session: Session, settings: Settings) -> None:
        rule(session)
        buy(session, settings, imported=True)
        assert grants(session) == [] and issued(session) == 0

    def test_guest_orders_issue_nothing(self, session: Session, settings: Settings) -> None:
        rule(session)
        order = place(session, None)
        accrual.accrue_order(session, settings=settings, order_id=order.id)
        assert grants(session) == []

    def test_inactive_rule_and_priority(self, session: Session, settings: Settings) -> None:
        off = rule(session, name="Off", active=False, priority=1)
        second = rule(session, name="Second", priority=20)
        first = rule(session, name="First", priority=10)
        buy(session, settings)
        (grant,) = grants(session)
        assert grant.rule_id == first.id != second.id != off.id

    def test_coupon_is_single_use_and_the_customers(
        self, session: Session, settings: Settings, clock: Any
    ) -> None:
        rule(session)
        customer = member(session)
        order = buy(session, settings, customer, placed_at=clock.now)
        coupon = session.scalar(select(Coupon).where(Coupon.source == CouponSource.bounce_back))
        assert coupon is not None
        assert (coupon.customer_id, coupon.max_uses) == (customer.id, 1)
        assert coupon.occasion == f"bounceback:{order.id}"


class TestCancelled:
    def test_a_cancelled_order_voids_its_unused_coupon(
        self, session: Session, settings: Settings
    ) -> None:
        rule(session)
        order = buy(session, settings)
        orders.update_order_status(
            session, order_id=order.id, data=OrderStatusUpdate(status=OrderStatus.cancelled)
        )
        accrual.reconcile_order(
            session, settings=settings, order_id=order.id, occasion=f"cancel:{order.id}"
        )
        coupon = session.scalar(
            select(Coupon)
            .where(Coupon.source == CouponSource.bounce_back)
            .execution_options(populate_existing=True)
        )
        assert coupon is not None and coupon.status == "voided"
        assert bounceback.void_for_order(session, order_id=order.id) is False  # once

    def test_a_used_coupon_stays(self, session: Session, settings: Settings, clock: Any) -> None:
        rule(session)
        customer = member(session)
        order = buy(session, settings, customer, placed_at=clock.now)
        offer = bounceback.coupon_for_order(session, settings=settings, order_id=order.id)
        assert offer is not None
        clock.set(offer.valid_from)
        coupons.use(
            session,
            code=offer.code,
            order_ref="next-visit",
            customer_id=customer.id,
            subtotal=1000,
            now=clock.now,
        )
        assert bounceback.void_for_order(session, order_id=order.id) is False


class TestMerge:
    def test_a_merge_moves_the_grants_to_the_winner(
        self, session: Session, settings: Settings
    ) -> None:
        rule(session)
        loser, winner = member(session), member(session)
        buy(session, settings, loser)
        buy(session, settings, winner)
        members.merge_members(
            session, settings=settings, winner_id=winner.id, loser_id=loser.id, merge_id="m1"
        )
        session.expire_all()
        assert {g.customer_id for g in grants(session)} == {winner.id}


class TestPersonalData:
    def test_the_export_lists_the_offers(self, session: Session, settings: Settings) -> None:
        from wafa.loyalty.declaration import LOYALTY

        rule(session, name="Back soon")
        customer = member(session)
        order = buy(session, settings, customer)
        assert LOYALTY.personal_data is not None and LOYALTY.personal_data.export is not None
        exported = LOYALTY.personal_data.export(session, customer.id)
        (row,) = exported["next_visit_offers"]
        assert (row["offer"], row["order_id"], row["held_out"]) == (
            "Back soon",
            str(order.id),
            False,
        )


class TestOncePerOrder:
    def test_accruing_again_issues_nothing_more(self, session: Session, settings: Settings) -> None:
        rule(session)
        order = buy(session, settings)
        assert accrual.accrue_order(session, settings=settings, order_id=order.id) is None
        facts = order_facts(session, order.id)
        again = bounceback.issue_for_order(
            session,
            settings=settings,
            order=facts,
            customer_id=facts.customer_id,  # type: ignore[arg-type]
            imported=False,
            now=datetime.now(UTC),
        )
        assert again is None
        assert len(grants(session)) == 1 and issued(session) == 1

    def test_two_matching_rules_one_coupon(self, session: Session, settings: Settings) -> None:
        rule(session, name="A")
        rule(session, name="B")
        buy(session, settings)
        assert len(grants(session)) == 1 and issued(session) == 1


class TestHoldout:
    def test_reproducible_share(self, session: Session, settings: Settings) -> None:
        held = rule(session, holdout_percent=30)
        for _ in range(60):
            buy(session, settings)
        found = grants(session)
        assert len(found) == 60
        for grant in found:
            assert grant.holdout == bounceback.in_holdout(held.id, grant.order_id, 30)
            assert (grant.coupon_id is None) == grant.holdout
        share = sum(g.holdout for g in found) / 60
        assert 0.1 < share < 0.5
        assert issued(session) == 60 - sum(g.holdout for g in found)

    def test_zero_percent_holds_out_nobody(self, session: Session, settings: Settings) -> None:
        for order_id in range(200):
            import uuid

            assert not bounceback.in_holdout(uuid.uuid4(), uuid.UUID(int=order_id), 0)


class TestConfirmation:
    """The order confirmation preset says the coupon, in English, Arabic and Persian."""

    def test_the_preset_renders_the_coupon(self, session: Session, settings: Settings) -> None:
        rule(session, name="Come back soon", valid_days=7)
        order = buy(session, settings, placed_at=datetime(2026, 3, 15, 12, tzinfo=UTC))
        context = {
            "order": order_context(session, settings, str(order.id)),
            "customer": {"first_name": "Sara"},
            "points": {"available": 0, "pending": 0},
            "business": {"name": "Test Café"},
        }
        offer = context["order"]["bounce_back"]
        assert offer["value"] == "10%"
        (preset,) = [p for p in PRESETS if p.key == "order_confirmation"]
        texts = {}
        for locale, (_, text) in preset.templates["confirm"].items():
            texts[locale] = render_source(text, {**context, "locale": locale})
            assert offer["code"] in texts[locale]
        assert "valid from 2026/03/16 to 2026/03/22" in texts["en"]
        assert "۲۰۲۶/۰۳/۱۶" in texts["fa"]
        assert "٢٠٢٦/٠٣/١٦" in texts["ar"]

    def test_no_coupon_no_paragraph(self, session: Session, settings: Settings) -> None:
        order = buy(session, settings)
        context = order_context(session, settings, str(order.id))
        assert context["bounce_back"] is None
        (preset,) = [p for p in PRESETS if p.key == "order_confirmation"]
        text = render_source(
            preset.templates["confirm"]["en"][1],
            {"order": context, "customer": {}, "points": {}, "business": {}, "locale": "en"},
        )
        assert "next visit" not in text


class TestRules:
    def test_needs_what_it_gives(self) -> None:
        with pytest.raises(ValidationError) as caught:
            RuleCreate.model_validate({"name": "x", "kind": "discount_fixed"})
        assert "amount" in str(caught.value)

    def test_bounds(self) -> None:
        for bad in ({"valid_days": 0}, {"holdout_percent": 51}, {"min_amount": -1}):
            with pytest.raises(ValidationError):
                RuleCreate.model_validate({"name": "x", "percent_bp": 500, **bad})

    def test_unknown_location(self, session: Session) -> None:
        import uuid

        with pytest.raises(errors.Invalid) as caught:
            rule(session, location_id=str(uuid.uuid4()))
        assert caught.value.errors[0][0] == ("location_id",)
